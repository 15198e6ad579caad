package meter_test

import (
	"testing"

	"github.com/wardenproject/warden/internal/meter"
	"github.com/wardenproject/warden/internal/meter/metertest"
)

func TestMemoryLedgerConformance(t *testing.T) {
	metertest.RunLedger(t, func(*testing.T) meter.Ledger { return meter.NewMemoryLedger() })
}

func TestMemoryUsageStoreConformance(t *testing.T) {
	metertest.RunUsageStore(t, func(*testing.T) meter.UsageStore { return meter.NewMemoryUsageStore() })
}
