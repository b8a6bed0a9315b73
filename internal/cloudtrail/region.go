package cloudtrail

import "regexp"

// regionName is the shape of every region name of every AWS partition: a
// country or area code, for some partitions a partition qualifier (gov,
// iso, isob, isoe, isof, the European Sovereign Cloud's de), a direction
// and a number: us-east-1, us-gov-west-1, cn-northwest-1, us-isob-east-1,
// eu-isoe-west-1, eusc-de-east-1, ap-southeast-5. It follows the
// partitions' own region patterns in the SDKs' endpoint rules, with lower
// case letters only, as CloudTrail writes awsRegion.
var regionName = regexp.MustCompile(`^(?:` +
	`(?:us|eu|ap|sa|ca|me|af|il|mx|cn)-[a-z]+` + // aws, aws-cn
	`|us-(?:gov|iso|isob|isof)-[a-z]+` + // aws-us-gov, aws-iso, aws-iso-b, aws-iso-f
	`|eu-isoe-[a-z]+` + // aws-iso-e
	`|eusc-de-[a-z]+` + // aws-eusc
	`)-[0-9]{1,2}$`)

// ValidRegion reports whether s can be the name of an AWS region. A query
// is keyed and enriched by its region, so a record naming anything else
// (a path, a name with blanks or capitals, an empty string) is bad input.
func ValidRegion(s string) bool {
	return len(s) <= 32 && regionName.MatchString(s)
}
