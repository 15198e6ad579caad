package alerttest

import (
	"testing"

	"github.com/wardenproject/warden/internal/monitor/alert"
)

// The in-memory store other packages test against must behave like the
// real backends.
func TestMemoryConformance(t *testing.T) {
	RunStore(t, func(*testing.T) alert.Store { return NewMemory() })
}
