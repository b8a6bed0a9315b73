// Package usage turns stored queries into what people ask about: who a query
// belongs to (user, team), what it cost, and report rows.
package usage

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"

	"github.com/athenawatch/athenawatch/internal/config"
	"github.com/athenawatch/athenawatch/internal/store"
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

// AvgMBScanned is the mean of bytes scanned over the queries with statistics,
// in MB of 2^20 bytes (the unit Athena bills in), rounded to 0.001.
func AvgMBScanned(bytes, queriesWithStats int64) float64 {
	if queriesWithStats == 0 {
		return 0
	}
	return math.Round(float64(bytes)/float64(queriesWithStats)/MiB*1000) / 1000
}

// DPUMillis is a query's DPU count × engine milliseconds when it ran on
// provisioned capacity and its final statistics carry a usable DPU count,
// else 0: per query, exactly what a report's DPU-hours sum
// (store.SumDPUMillis) adds for it.
func DPUMillis(q *store.Query) int64 {
	if !q.Provisioned || q.StatsStatus != store.StatusFinal || !(q.Stats.DPUCount > 0 && q.Stats.DPUCount <= store.MaxDPUCount) {
		return 0
	}
	return int64(math.Round(q.Stats.DPUCount * float64(min(max(q.Stats.EngineMs, 0), store.MaxDPUEngineMs))))
}

// QueryCostUSD is one query's own cost, as a report of that query alone
// prices it: its billed bytes at its region's price per TiB, plus its
// DPU-hours at the price per DPU-hour. store.Reprice computes the same in
// SQL; the conversions keep each term rounded on its own, as there.
func QueryCostUSD(q *store.Query, p Prices) float64 {
	bytesCost := float64(float64(q.BilledBytes) * p.USDPerTiB(q.Region) / TiB)
	dpuCost := float64(float64(DPUMillis(q)) / msPerHour * p.USDPerDPUHour)
	return bytesCost + dpuCost
}

// pricesFingerprint identifies the prices a stored cost_usd was computed
// with: the per-TiB prices and the price per DPU-hour (which workgroups are
// provisioned is a rule, in the rules fingerprint).
func pricesFingerprint(p config.Pricing) string {
	data, _ := json.Marshal(struct {
		V             int
		USDPerTiB     float64
		Regions       map[string]float64
		USDPerDPUHour float64
	}{1, p.USDPerTiB, p.Regions, p.USDPerDPUHour})
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
