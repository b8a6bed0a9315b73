package usage

import "testing"

func TestBilledBytes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		state, stmt string
		scanned     int64
		reused      bool
		provisioned bool
		want        int64
	}{
		{"small query pays the 10 MB minimum", "SUCCEEDED", "DML", 1, false, false, 10 * MiB},
		{"zero bytes pays the minimum", "SUCCEEDED", "DML", 0, false, false, 10 * MiB},
		{"exactly 10 MiB", "SUCCEEDED", "DML", 10 * MiB, false, false, 10 * MiB},
		{"rounded up to the next MiB", "SUCCEEDED", "DML", 10*MiB + 1, false, false, 11 * MiB},
		{"large", "SUCCEEDED", "DML", 3*TiB + 5, false, false, 3*TiB + MiB},
		{"cancelled is billed for what it scanned", "CANCELLED", "DML", 50 * MiB, false, false, 50 * MiB},
		{"failed is free", "FAILED", "DML", 50 * MiB, false, false, 0},
		{"DDL is free", "SUCCEEDED", "DDL", 50 * MiB, false, false, 0},
		{"UTILITY is free", "SUCCEEDED", "UTILITY", 50 * MiB, false, false, 0},
		{"reused result is free", "SUCCEEDED", "DML", 50 * MiB, true, false, 0},
		{"provisioned capacity is billed by DPU, not bytes", "SUCCEEDED", "DML", 50 * MiB, false, true, 0},
		{"running is not billed yet", "RUNNING", "DML", 50 * MiB, false, false, 0},
		{"negative input is treated as zero", "SUCCEEDED", "DML", -5, false, false, 10 * MiB},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := BilledBytes(tt.state, tt.stmt, tt.scanned, tt.reused, tt.provisioned); got != tt.want {
				t.Fatalf("BilledBytes = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestCostUSD(t *testing.T) {
	t.Parallel()
	price := func(region string) float64 {
		if region == "eu-west-2" {
			return 6
		}
		return 5
	}
	var two tally
	two.addBilled("us-east-1", TiB)
	two.addBilled("eu-west-2", TiB/2)
	if got := two.costUSD(price); got != 8 {
		t.Fatalf("cost = %v, want 8", got)
	}
	var one tally
	one.addBilled("us-east-1", 10*MiB)
	if got := one.costUSD(price); got != 10.0*MiB*5/TiB {
		t.Fatalf("cost of the minimum = %v", got)
	}
}

func TestAvgMBScanned(t *testing.T) {
	t.Parallel()
	if got := AvgMBScanned(3*MiB, 2); got != 1.5 {
		t.Fatalf("avg = %v", got)
	}
	if got := AvgMBScanned(5, 0); got != 0 {
		t.Fatalf("avg with no stats = %v", got)
	}
}
