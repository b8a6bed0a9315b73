package orgsim

import "fmt"

// Shape is the mix of records GenerateTrail writes.
type Shape string

const (
	// ShapeMixed is a busy organization trail: records of other services
	// with GenerateOptions.AthenaFraction of Athena calls, most of them
	// StartQueryExecution. The zero Shape is ShapeMixed.
	ShapeMixed Shape = "mixed"
	// ShapeAthenaHeavy is ShapeMixed in an account where BI tools, SDK
	// waiters and the console poll Athena: a third of all records (see
	// athenaReadShare) are Athena's own read calls about the queries just
	// started, by the callers that started them, in the same files.
	ShapeAthenaHeavy Shape = "athena-heavy"
	// The queries-only shape is defined with its generator.
)

// ParseShape returns the shape named s.
func ParseShape(s string) (Shape, error) {
	switch sh := Shape(s); sh {
	case ShapeMixed, ShapeAthenaHeavy:
		return sh, nil
	}
	return "", fmt.Errorf("unknown trail shape %q (want %s or %s)", s, ShapeMixed, ShapeAthenaHeavy)
}
