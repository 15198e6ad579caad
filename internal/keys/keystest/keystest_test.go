package keystest

import (
	"testing"

	"github.com/wardenproject/warden/internal/keys"
)

// The in-memory store other packages test against must behave like the
// real backends.
func TestMemoryConformance(t *testing.T) {
	TestStore(t, func(*testing.T) keys.Store { return NewMemory() })
}
