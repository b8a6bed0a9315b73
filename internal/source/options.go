package source

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
)

// AddressOptions reads the options of an address, the part after "?"
// (s3://bucket/prefix?late=2h): each key one of known, given once or more
// (the last wins).
func AddressOptions(query string, known ...string) (map[string]string, error) {
	params, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("options %q: %v", query, err)
	}
	out := make(map[string]string, len(params))
	for k, vs := range params {
		if !slices.Contains(known, k) {
			return nil, fmt.Errorf("unknown option %q (want %s)", k, strings.Join(known, " or "))
		}
		out[k] = vs[len(vs)-1]
	}
	return out, nil
}

// DurationOption reads the duration of option name, from 0 to most; an
// explicit zero is -1, so that it stands apart from "not given".
func DurationOption(name, v string, most time.Duration, example string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d > most {
		return 0, fmt.Errorf("%s=%q: want a duration from 0s to %s, such as %s", name, v, strings.TrimSuffix(strings.TrimSuffix(most.String(), "0s"), "0m"), example)
	}
	if d == 0 {
		return -1, nil
	}
	return d, nil
}

// LoadAWS loads a source's AWS configuration with load (nil: the SDK's
// default chain) and gives it HTTPClient(conns).
func LoadAWS(ctx context.Context, name string, load func(context.Context) (aws.Config, error), conns int) (aws.Config, error) {
	if load == nil {
		load = func(ctx context.Context) (aws.Config, error) { return awsconfig.LoadDefaultConfig(ctx) }
	}
	cfg, err := load(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("%s: %w", name, err)
	}
	cfg = cfg.Copy()
	cfg.HTTPClient = HTTPClient(conns)
	return cfg, nil
}
