package usage

import (
	"context"
	"fmt"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
	"github.com/athenawatch/athenawatch/internal/store"
)

const rulesFingerprintKey = "rules_fingerprint"

// NewQuery turns a CloudTrail query event into a stored query with its
// derived columns filled. The event must not be a rejected submission.
func (r *Rules) NewQuery(ev *cloudtrail.QueryEvent) store.Query {
	owner := ev.RecipientAccount
	if owner == "" {
		owner = ev.Identity.AccountID
	}
	q := store.Query{
		Region:             ev.Region,
		QueryID:            ev.QueryID,
		EventID:            ev.EventID,
		EventTime:          ev.EventTime,
		OwnerAccount:       owner,
		Identity:           ev.Identity,
		CTDatabase:         ev.Database,
		CTCatalog:          ev.Catalog,
		CTWorkgroup:        ev.Workgroup,
		CTQueryText:        ev.QueryText,
		ClientRequestToken: ev.ClientRequestToken,
		SourceIP:           ev.SourceIPAddress,
		UserAgent:          ev.UserAgent,
		StatsStatus:        store.StatusPending,
	}
	r.Query(&q)
	return q
}

// NewRejected turns a rejected submission event into its stored form.
func (r *Rules) NewRejected(ev *cloudtrail.QueryEvent) store.Rejected {
	rj := store.Rejected{
		EventID:      ev.EventID,
		EventTime:    ev.EventTime,
		Region:       ev.Region,
		OwnerAccount: ev.RecipientAccount,
		Identity:     ev.Identity,
		Database:     ev.Database,
		Workgroup:    ev.Workgroup,
		ErrorCode:    ev.ErrorCode,
		ErrorMessage: ev.ErrorMessage,
	}
	r.Rejected(&rj)
	return rj
}

// Rederive re-applies the rules to every stored row when they differ from the
// rules the rows were derived with (a changed team mapping or identity rule),
// so reports always reflect the current configuration. It reports whether
// anything was rewritten.
func Rederive(ctx context.Context, st *store.Store, r *Rules) (bool, error) {
	old, err := st.Meta(ctx, rulesFingerprintKey)
	if err != nil {
		return false, err
	}
	if old == r.Fingerprint() {
		return false, nil
	}
	if old != "" {
		err := st.ScanQueries(ctx, 5000, func(page []store.Query) error {
			for i := range page {
				r.Query(&page[i])
			}
			return st.UpdateQueries(ctx, page)
		})
		if err != nil {
			return false, fmt.Errorf("re-derive queries: %w", err)
		}
		err = st.ScanRejected(ctx, 5000, func(page []store.Rejected) error {
			for i := range page {
				r.Rejected(&page[i])
			}
			return st.UpdateRejectedTeams(ctx, page)
		})
		if err != nil {
			return false, fmt.Errorf("re-derive rejected submissions: %w", err)
		}
	}
	if err := st.SetMeta(ctx, rulesFingerprintKey, r.Fingerprint()); err != nil {
		return false, err
	}
	return old != "", nil
}
