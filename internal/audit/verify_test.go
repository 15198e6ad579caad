package audit

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// buildLog returns a store holding n records with a checkpoint after
// every `every` records (and none after the last partial stretch).
func buildLog(t *testing.T, signer Signer, n, every int) *MemoryStore {
	t.Helper()
	m := NewMemoryStore()
	for first := 0; first < n; first += every {
		size := min(every, n-first)
		err := m.AppendAudit(t.Context(), func(tl Tail) (Batch, error) {
			var b Batch
			seq, prev := tl.Seq, tl.Hash
			for i := range size {
				r := sample(first + i)
				r.normalize()
				seq++
				r.Seq, r.PrevHash = seq, prev
				r.Hash = r.ComputeHash()
				prev = r.Hash
				b.Records = append(b.Records, r)
			}
			if size == every {
				cp := &Checkpoint{Seq: seq, Hash: prev, Time: t0}
				sig, err := signer.Sign(CheckpointMessage(cp))
				if err != nil {
					return Batch{}, err
				}
				cp.Signature = sig
				b.Checkpoint = cp
			}
			return b, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// at returns the index of the record with seq in m.
func at(m *MemoryStore, seq int64) int {
	return slices.IndexFunc(m.records, func(r Record) bool { return r.Seq == seq })
}

// rehashFrom recomputes the chain from record seq on, as an attacker
// without the signing key can.
func rehashFrom(m *MemoryStore, seq int64) {
	i := at(m, seq)
	for ; i < len(m.records); i++ {
		if i > 0 {
			m.records[i].PrevHash = m.records[i-1].Hash
		}
		m.records[i].Hash = m.records[i].ComputeHash()
	}
}

func TestVerifyFindsTampering(t *testing.T) {
	signer := testSigner(t)
	tests := []struct {
		name   string
		tamper func(m *MemoryStore)
		// wantSeq is the record Verify must name; 0 for a log that
		// verifies.
		wantSeq    int64
		wantReason string
	}{
		{"intact", func(m *MemoryStore) {}, 0, ""},
		{"field edited", func(m *MemoryStore) { m.records[at(m, 15)].Cost = 1 }, 15, "does not match its hash"},
		{"field edited and its hash recomputed", func(m *MemoryStore) {
			r := &m.records[at(m, 15)]
			r.Model = "cheaper-model"
			r.Hash = r.ComputeHash()
		}, 16, "prev_hash is not the hash of record 15"},
		{"chain rewritten from a record on", func(m *MemoryStore) {
			m.records[at(m, 15)].TokensOut = 0
			rehashFrom(m, 15)
		}, 11, "records 11 to 20 were rewritten"},
		{"record deleted", func(m *MemoryStore) { m.records = slices.Delete(m.records, at(m, 15), at(m, 15)+1) }, 15, "missing"},
		{"record deleted and the rest renumbered and rehashed", func(m *MemoryStore) {
			i := at(m, 15)
			m.records = slices.Delete(m.records, i, i+1)
			for j := i; j < len(m.records); j++ {
				m.records[j].Seq--
			}
			rehashFrom(m, 15)
		}, 11, "rewritten"},
		{"records deleted from the end, a checkpoint among them", func(m *MemoryStore) { m.records = m.records[:at(m, 30)] }, 30, "deleted from the end"},
		{"forged record inserted", func(m *MemoryStore) {
			i := at(m, 16)
			for j := i; j < len(m.records); j++ {
				m.records[j].Seq++
			}
			forged := sample(99)
			forged.Seq, forged.PrevHash = 16, m.records[i-1].Hash
			forged.Hash = forged.ComputeHash()
			m.records = slices.Insert(m.records, i, forged)
		}, 17, "does not match its hash"},
		{"two records swapped", func(m *MemoryStore) {
			i, j := at(m, 15), at(m, 16)
			a, b := m.records[i], m.records[j]
			a.Seq, b.Seq = b.Seq, a.Seq
			m.records[i], m.records[j] = b, a
		}, 15, "does not match its hash"},
		{"checkpoint signature forged", func(m *MemoryStore) { m.cps[1].Signature[0] ^= 1 }, 20, "signature"},
		{"checkpoint moved", func(m *MemoryStore) {
			m.cps[1].Seq, m.cps[1].Hash = 19, m.records[at(m, 19)].Hash
		}, 19, "signature"},
		{"checkpoint deleted", func(m *MemoryStore) { m.cps = slices.Delete(m.cps, 1, 2) }, 0, ""},
		{"prefix deleted without its checkpoints", func(m *MemoryStore) {
			m.records = m.records[at(m, 15):]
		}, 11, "missing"},
		{"prefix deleted up to a checkpoint, as a prune", func(m *MemoryStore) {
			m.records = m.records[at(m, 21):]
			m.cps = m.cps[1:]
		}, 0, ""},
		{"pruned, and the anchor deleted", func(m *MemoryStore) {
			m.records = m.records[at(m, 21):]
			m.cps = m.cps[2:]
		}, 20, "no checkpoint before it anchors the start"},
		{"pruned, and the anchor forged", func(m *MemoryStore) {
			m.records = m.records[at(m, 21):]
			m.cps = m.cps[1:]
			m.cps[0].Hash[0] ^= 1
		}, 20, "anchor checkpoint is not valid"},
		{"pruned, and the first record after the anchor deleted", func(m *MemoryStore) {
			m.records = m.records[at(m, 22):]
			m.cps = m.cps[1:]
		}, 21, "missing"},
		{"every record deleted, checkpoints kept", func(m *MemoryStore) { m.records = nil }, 11, "missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := buildLog(t, signer, 35, 10) // checkpoints at 10, 20, 30; 31-35 unsigned
			tc.tamper(m)
			rep, err := Verify(t.Context(), m, signer.PublicKey())
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantSeq == 0 {
				if !rep.OK() {
					t.Fatalf("Verify found %s", rep.Problem)
				}
				return
			}
			if rep.OK() {
				t.Fatalf("Verify found nothing wrong: %+v", rep)
			}
			if rep.Problem.Seq != tc.wantSeq || !strings.Contains(rep.Problem.Reason, tc.wantReason) {
				t.Errorf("Verify found %q, want record %d: …%s…", rep.Problem, tc.wantSeq, tc.wantReason)
			}
		})
	}
}

func TestVerifyReport(t *testing.T) {
	signer := testSigner(t)
	m := buildLog(t, signer, 35, 10)
	rep, err := Verify(t.Context(), m, signer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	want := Report{Records: 35, Checkpoints: 3, FirstSeq: 1, LastSeq: 35, Unsigned: 5}
	if rep != want {
		t.Errorf("Verify = %+v, want %+v", rep, want)
	}
	// What the chain alone cannot show: records appended after the last
	// checkpoint, or removed from after it. Unsigned says how many such
	// records there are.
	forged := sample(99)
	forged.Seq, forged.PrevHash = 36, m.records[34].Hash
	forged.Hash = forged.ComputeHash()
	m.records = append(m.records, forged)
	if rep, err := Verify(t.Context(), m, signer.PublicKey()); err != nil || !rep.OK() || rep.Unsigned != 6 {
		t.Errorf("Verify with a forged record after the last checkpoint = %+v, %v; want it unsigned", rep, err)
	}

	pruned, err := m.PruneAudit(t.Context(), t0.Add(time.Hour))
	if err != nil || pruned.Anchor != 30 {
		t.Fatalf("PruneAudit = %+v, %v", pruned, err)
	}
	rep, err = Verify(t.Context(), m, signer.PublicKey())
	if want := (Report{Records: 6, Checkpoints: 1, FirstSeq: 31, LastSeq: 36, Anchor: 30, Unsigned: 6}); err != nil || rep != want {
		t.Errorf("Verify after a prune = %+v, %v; want %+v", rep, err, want)
	}
}

func TestVerifyKeys(t *testing.T) {
	signer := testSigner(t)
	m := buildLog(t, signer, 25, 10)
	rep, err := Verify(t.Context(), m, testSigner(t).PublicKey())
	if err != nil || rep.OK() || rep.Problem.Seq != 10 {
		t.Errorf("Verify with another key = %+v, %v; want the first checkpoint named", rep, err)
	}
	for _, pub := range [][]byte{nil, make([]byte, 31)} {
		if _, err := Verify(t.Context(), m, pub); err == nil {
			t.Errorf("Verify with public key %x checked checkpoints", pub)
		}
	}
	// Without checkpoints there is nothing to check a key against.
	unsigned := buildLog(t, signer, 5, 10)
	if rep, err := Verify(t.Context(), unsigned, nil); err != nil || !rep.OK() || rep.Unsigned != 5 {
		t.Errorf("Verify of an unsigned log without a key = %+v, %v", rep, err)
	}
}

// failingReader fails its nth call to AuditRecords.
type failingReader struct {
	*MemoryStore
	n int
}

func (f *failingReader) AuditRecords(ctx context.Context, q Query) ([]Record, error) {
	if f.n--; f.n == 0 {
		return nil, errStoreDown
	}
	return f.MemoryStore.AuditRecords(ctx, q)
}

func TestVerifyReadErrors(t *testing.T) {
	signer := testSigner(t)
	m := buildLog(t, signer, 2500, 1000)
	for _, n := range []int{1, 2, 3} {
		_, err := Verify(t.Context(), &failingReader{MemoryStore: m, n: n}, signer.PublicKey())
		if !errors.Is(err, errStoreDown) {
			t.Errorf("Verify with read %d failing = %v", n, err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Verify(ctx, m, signer.PublicKey()); !errors.Is(err, context.Canceled) {
		t.Errorf("Verify with a canceled context = %v", err)
	}
}
