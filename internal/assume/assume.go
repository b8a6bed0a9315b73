// Package assume gives the credentials of the role athenawatch assumes in
// a member account (config accounts.ID.role_arn). Role's provider caches
// the session until it expires; callers keep one per account, so that a
// role is assumed once per session whatever the number of regions and
// clients that use it. Enrichment, the lookup-events source, Identity
// Center names and budget enforcement share it.
package assume

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// SessionName is the role session name CloudTrail records for every call
// athenawatch makes under an assumed role, so that its own calls are easy
// to tell apart.
const SessionName = "athenawatch"

// STS returns an STS client for cfg's credentials, in cfg's region or
// else in fallbackRegion (a regional STS endpoint does as well as any),
// with opts applied after.
func STS(cfg aws.Config, fallbackRegion string, opts ...func(*sts.Options)) *sts.Client {
	return sts.NewFromConfig(cfg, append([]func(*sts.Options){func(o *sts.Options) {
		if o.Region == "" {
			o.Region = fallbackRegion
		}
	}}, opts...)...)
}

// Role returns cached credentials of roleARN, assumed through client.
func Role(client *sts.Client, roleARN string) aws.CredentialsProvider {
	return aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(client, roleARN,
		func(o *stscreds.AssumeRoleOptions) { o.RoleSessionName = SessionName }))
}
