package awsemu

import (
	"strings"
	"time"
)

// Workgroups.
//
// Every account has the workgroup "primary" in every region without creating
// it (https://docs.aws.amazon.com/athena/latest/ug/workgroups-manage-queries-control-costs.html);
// others exist once CreateWorkGroup made them, and StartQueryExecution,
// ListQueryExecutions and GetWorkGroup refuse a workgroup that does not
// exist. The API model (athena.service-2.json) lists only
// InternalServerException and InvalidRequestException for these operations.
// Users of real Athena quote "WorkGroup is not found." for an unknown
// workgroup, and "primary workGroup could not be created" for an attempt to
// create primary. The wording of the duplicate-name refusal was found in no
// public source; it is InvalidRequestException as the model says, with a
// message of this emulator's own.
const (
	workGroupNotFound      = "WorkGroup is not found."
	workGroupExists        = "WorkGroup is already created."
	primaryWorkGroupExists = "primary workGroup could not be created"

	primaryWorkGroup      = "primary"
	maxWorkGroupDescBytes = 1024
)

// primaryCreated is when Athena's API, and with it every account's primary
// workgroup, came to be (the API version date).
var primaryCreated = time.Date(2017, 5, 18, 0, 0, 0, 0, time.UTC)

// workGroupConfigJSON is the part of WorkGroupConfiguration the emulator
// keeps and shows back; other members of a request are accepted and dropped.
type workGroupConfigJSON struct {
	ResultConfiguration struct {
		OutputLocation string `json:",omitempty"`
	}
	EnforceWorkGroupConfiguration   bool
	PublishCloudWatchMetricsEnabled bool
	BytesScannedCutoffPerQuery      int64 `json:",omitempty"`
	RequesterPaysEnabled            bool
	EngineVersion                   engineVersionJSON
}

type createWorkGroupInput struct {
	Name          *string
	Description   *string
	Configuration *struct {
		ResultConfiguration *struct{ OutputLocation *string }
		EnforceWorkGroupConfiguration,
		PublishCloudWatchMetricsEnabled,
		RequesterPaysEnabled *bool
		BytesScannedCutoffPerQuery *int64
	}
	Tags []struct{ Key, Value *string }
}

// minBytesScannedCutoff is the model's lower bound of
// BytesScannedCutoffPerQuery (10 MB).
const minBytesScannedCutoff = 10000000

func checkWorkGroupName(name *string, member string) (string, error) {
	if name == nil {
		return "", validationError("null", member, "Member must not be null")
	}
	if !workGroupPattern.MatchString(*name) {
		return "", validationError(*name, member, "Member must satisfy regular expression pattern: [a-zA-Z0-9._-]{1,128}")
	}
	return *name, nil
}

func athenaCreateWorkGroup(c *call) (any, error) {
	var in createWorkGroupInput
	if err := decodeInput(c, &in); err != nil {
		return nil, err
	}
	name, err := checkWorkGroupName(in.Name, "name")
	if err != nil {
		return nil, err
	}
	desc := deref(in.Description)
	if len(desc) > maxWorkGroupDescBytes {
		return nil, validationError("***", "description", "Member must have length less than or equal to 1024")
	}
	cfg := workGroupConfigJSON{EngineVersion: engineVersion()}
	if in.Configuration != nil {
		ic := in.Configuration
		if rc := ic.ResultConfiguration; rc != nil && deref(rc.OutputLocation) != "" {
			loc := *rc.OutputLocation
			if !strings.HasSuffix(loc, "/") {
				loc += "/"
			}
			cfg.ResultConfiguration.OutputLocation = loc
		}
		cfg.EnforceWorkGroupConfiguration = deref(ic.EnforceWorkGroupConfiguration)
		cfg.PublishCloudWatchMetricsEnabled = deref(ic.PublishCloudWatchMetricsEnabled)
		cfg.RequesterPaysEnabled = deref(ic.RequesterPaysEnabled)
		if ic.BytesScannedCutoffPerQuery != nil {
			if *ic.BytesScannedCutoffPerQuery < minBytesScannedCutoff {
				return nil, validationError("***", "configuration.bytesScannedCutoffPerQuery", "Member must have value greater than or equal to 10000000")
			}
			cfg.BytesScannedCutoffPerQuery = *ic.BytesScannedCutoffPerQuery
		}
	}
	if name == primaryWorkGroup {
		return nil, invalidRequest("%s", primaryWorkGroupExists)
	}
	e := c.e
	e.mu.Lock()
	defer e.mu.Unlock()
	wgs := e.workgroupsLocked(c.account, c.region)
	if _, ok := wgs[name]; ok {
		return nil, invalidRequest("%s", workGroupExists)
	}
	wgs[name] = &WorkGroup{
		Account: c.account, Region: c.region, Name: name, Description: desc,
		OutputLocation: cfg.ResultConfiguration.OutputLocation, Created: c.now, config: cfg,
	}
	return struct{}{}, nil
}

func workGroupState(wg *WorkGroup) string {
	if wg.Disabled {
		return "DISABLED"
	}
	return "ENABLED"
}

// athenaUpdateWorkGroup changes a workgroup's state, description and
// per-query cutoff.
func athenaUpdateWorkGroup(c *call) (any, error) {
	var in struct {
		WorkGroup            *string
		Description          *string
		State                *string
		ConfigurationUpdates *struct {
			BytesScannedCutoffPerQuery       *int64
			RemoveBytesScannedCutoffPerQuery *bool
			EnforceWorkGroupConfiguration    *bool
		}
	}
	if err := decodeInput(c, &in); err != nil {
		return nil, err
	}
	name, err := checkWorkGroupName(in.WorkGroup, "workGroup")
	if err != nil {
		return nil, err
	}
	if in.State != nil && *in.State != "ENABLED" && *in.State != "DISABLED" {
		return nil, validationError(*in.State, "state", "Member must satisfy enum value set: [ENABLED, DISABLED]")
	}
	if in.Description != nil && len(*in.Description) > maxWorkGroupDescBytes {
		return nil, validationError("***", "description", "Member must have length less than or equal to 1024")
	}
	if u := in.ConfigurationUpdates; u != nil && u.BytesScannedCutoffPerQuery != nil && *u.BytesScannedCutoffPerQuery < minBytesScannedCutoff {
		return nil, validationError("***", "configurationUpdates.bytesScannedCutoffPerQuery", "Member must have value greater than or equal to 10000000")
	}
	c.e.mu.Lock()
	defer c.e.mu.Unlock()
	wg, ok := c.e.workgroupsLocked(c.account, c.region)[name]
	if !ok {
		return nil, invalidRequest("%s", workGroupNotFound)
	}
	if in.State != nil {
		wg.Disabled = *in.State == "DISABLED"
	}
	if in.Description != nil {
		wg.Description = *in.Description
	}
	if u := in.ConfigurationUpdates; u != nil {
		if u.BytesScannedCutoffPerQuery != nil {
			wg.config.BytesScannedCutoffPerQuery = *u.BytesScannedCutoffPerQuery
		}
		if deref(u.RemoveBytesScannedCutoffPerQuery) {
			wg.config.BytesScannedCutoffPerQuery = 0
		}
		if u.EnforceWorkGroupConfiguration != nil {
			wg.config.EnforceWorkGroupConfiguration = *u.EnforceWorkGroupConfiguration
		}
	}
	return struct{}{}, nil
}

func athenaGetWorkGroup(c *call) (any, error) {
	var in struct{ WorkGroup *string }
	if err := decodeInput(c, &in); err != nil {
		return nil, err
	}
	name, err := checkWorkGroupName(in.WorkGroup, "workGroup")
	if err != nil {
		return nil, err
	}
	c.e.mu.Lock()
	defer c.e.mu.Unlock()
	wg, ok := c.e.workgroupsLocked(c.account, c.region)[name]
	if !ok {
		return nil, invalidRequest("%s", workGroupNotFound)
	}
	out := struct {
		Name          string
		State         string
		Configuration workGroupConfigJSON
		Description   string `json:",omitempty"`
		CreationTime  epochSeconds
	}{wg.Name, workGroupState(wg), wg.config, wg.Description, epochSeconds(wg.Created)}
	return map[string]any{"WorkGroup": out}, nil
}
