package awsemu

import "testing"

func TestSetAndResetQuota(t *testing.T) {
	t.Parallel()
	tests := []struct {
		op      string
		allowed int // calls a fresh bucket lets through after ResetQuota, of 20
	}{
		{"ListWorkGroups", 10}, // Athena's default: burst 10
		{"AssumeRole", 20},     // no default quota: unlimited
	}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			t.Parallel()
			e := New(Options{})
			e.SetQuota(tt.op, 0.001, 1)
			if !e.throttle.allow("111111111111", "us-east-1", tt.op) || e.throttle.allow("111111111111", "us-east-1", tt.op) {
				t.Fatal("SetQuota(burst 1): want exactly one call through")
			}
			e.ResetQuota(tt.op)
			n := 0
			for range 20 {
				if e.throttle.allow("111111111111", "us-east-1", tt.op) {
					n++
				}
			}
			if n != tt.allowed {
				t.Errorf("after ResetQuota, %d of 20 calls allowed, want %d", n, tt.allowed)
			}
		})
	}
}
