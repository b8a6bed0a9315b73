// Package usage turns stored queries into what people ask about: who a query
// belongs to (user, team), what it cost, and report rows.
package usage

import (
	"math"
	"sort"
)

// Units of the cost model.
const (
	MiB = 1 << 20
	TiB = 1 << 40

	// MinBilledBytes is Athena's per-query minimum charge.
	MinBilledBytes = 10 * MiB
)

// BilledBytes is what Athena charges a query for, per its pricing page
// (https://aws.amazon.com/athena/pricing/, "SQL queries": "You are charged for
// the number of bytes scanned by Amazon Athena, rounded up to the nearest
// megabyte, with a 10MB minimum per query. There are no charges for Data
// Definition Language (DDL) statements ... or failed queries. Cancelled
// queries are charged based on the amount of data scanned."; queries that
// reuse a previous result scan nothing and are not charged). The megabyte of
// Athena's billing is 2^20 bytes.
//
// state and statementType are Athena's QueryExecution values. Queries that are
// not final yet, and queries on provisioned capacity (billed by DPU-hours),
// bill no bytes.
func BilledBytes(state, statementType string, scanned int64, reused, provisioned bool) int64 {
	if provisioned || reused || statementType != "DML" {
		return 0
	}
	if state != "SUCCEEDED" && state != "CANCELLED" {
		return 0
	}
	if scanned < 0 {
		scanned = 0
	}
	billed := (scanned + MiB - 1) / MiB * MiB
	if billed < MinBilledBytes {
		billed = MinBilledBytes
	}
	return billed
}

// CostUSD prices billed bytes per region: the sum over regions of
// billed × price-per-TiB / 2^40. Regions are summed in sorted order so the
// float result is the same on every run and in every test that recomputes it.
func CostUSD(billedByRegion map[string]int64, pricePerTiB func(region string) float64) float64 {
	regions := make([]string, 0, len(billedByRegion))
	for r := range billedByRegion {
		regions = append(regions, r)
	}
	sort.Strings(regions)
	var cost float64
	for _, r := range regions {
		cost += float64(billedByRegion[r]) * pricePerTiB(r) / TiB
	}
	return cost
}

// AvgMBScanned is the mean of bytes scanned over the queries with statistics,
// in MB of 2^20 bytes (the unit Athena bills in), rounded to 0.001.
func AvgMBScanned(bytes, queriesWithStats int64) float64 {
	if queriesWithStats == 0 {
		return 0
	}
	return math.Round(float64(bytes)/float64(queriesWithStats)/MiB*1000) / 1000
}
