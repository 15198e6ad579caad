package audit_test

import (
	"testing"

	"github.com/wardenproject/warden/internal/audit"
	"github.com/wardenproject/warden/internal/audit/audittest"
)

func TestMemoryStoreConformance(t *testing.T) {
	audittest.Run(t, func(t *testing.T) audit.Store { return audit.NewMemoryStore() })
}
