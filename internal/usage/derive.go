package usage

import (
	"context"
	"fmt"

	"github.com/athenawatch/athenawatch/internal/cloudtrail"
	"github.com/athenawatch/athenawatch/internal/store"
)

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

// Rederive re-applies the rules to every stored row derived with other
// rules (a changed team mapping or identity rule, or a row written by a
// process still running older rules), so reports always reflect the current
// configuration. It reports whether anything was rewritten.
func Rederive(ctx context.Context, st *store.Store, r *Rules) (bool, error) {
	fp := r.Fingerprint()
	stale, err := st.HasStale(ctx, fp)
	if err != nil || !stale {
		return false, err
	}
	var region, id string
	for {
		page, err := st.StaleQueries(ctx, fp, region, id, 5000)
		if err != nil {
			return false, fmt.Errorf("re-derive queries: %w", err)
		}
		if len(page) == 0 {
			break
		}
		for i := range page {
			r.Query(&page[i])
		}
		if _, err := st.UpdateDerived(ctx, page); err != nil {
			return false, fmt.Errorf("re-derive queries: %w", err)
		}
		// Redaction turned on (part of the rules) scrubs the texts
		// stored before too.
		if r.RedactsLiterals() {
			if _, err := st.UpdateTexts(ctx, page); err != nil {
				return false, fmt.Errorf("redact stored query texts: %w", err)
			}
		}
		last := page[len(page)-1]
		region, id = last.Region, last.QueryID
	}
	err = st.StaleRejected(ctx, fp, 5000, func(page []store.Rejected) error {
		for i := range page {
			r.Rejected(&page[i])
		}
		return st.UpdateRejectedTeams(ctx, page)
	})
	if err != nil {
		return false, fmt.Errorf("re-derive rejected submissions: %w", err)
	}
	return true, nil
}

// PricesFingerprint identifies the prices the rules set each query's cost
// with.
func (r *Rules) PricesFingerprint() string { return r.pricesPrint }

// Reprice sets the stored cost of every query from the rules' prices when
// they changed since the costs were computed (or never were: a database of
// an earlier release). It reports whether it repriced. Read-only commands
// never call it: a listing there sorts and shows the costs as stored
// (StalePrices tells whether they are), while reports price at read time.
func Reprice(ctx context.Context, st *store.Store, r *Rules) (int64, error) {
	changed, err := st.Reprice(ctx, r.pricesPrint, r.prices.USDPerTiB, r.prices.USDPerDPUHour)
	if err != nil {
		return 0, fmt.Errorf("reprice stored queries: %w", err)
	}
	return changed, nil
}

// StalePrices reports whether the stored per-query costs were computed with
// other prices than the rules' (or never computed).
func StalePrices(ctx context.Context, st *store.Store, r *Rules) (bool, error) {
	fp, err := st.PricesFingerprint(ctx)
	if err != nil {
		return false, err
	}
	return fp != r.pricesPrint, nil
}
