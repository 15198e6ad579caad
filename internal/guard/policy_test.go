package guard

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestDefaultPolicyIsValid(t *testing.T) {
	p := Default()
	if err := p.Check(); err != nil {
		t.Fatalf("Default().Check() = %v", err)
	}
	if p.PII.action("email") != Redact || p.Secrets.action("openai_key") != Block ||
		p.Injection.Action != Flag || p.Injection.threshold() != 0.8 ||
		p.Output.Secrets.action("x") != Redact || p.Output.PII.action("x") != Flag {
		t.Fatalf("Default() = %+v, not the documented defaults", p)
	}
}

func TestClassPolicyAction(t *testing.T) {
	c := ClassPolicy{Action: Redact, Types: map[string]Action{"email": Allow, "phone": ""}}
	for typ, want := range map[string]Action{"email": Allow, "phone": Redact, "iban": Redact} {
		if got := c.action(typ); got != want {
			t.Errorf("action(%q) = %q, want %q", typ, got, want)
		}
	}
	if got := (ClassPolicy{}).action("email"); got != Allow {
		t.Errorf("zero ClassPolicy action = %q, want allow", got)
	}
}

func TestMerge(t *testing.T) {
	base := Default()
	base.PII.Types = map[string]Action{"email": Allow, "phone": Mask}
	tests := []struct {
		name     string
		override Policy
		check    func(t *testing.T, p Policy)
	}{
		{"zero override keeps the base", Policy{}, func(t *testing.T, p Policy) {
			if !reflect.DeepEqual(p, base) {
				t.Errorf("got %+v, want %+v", p, base)
			}
		}},
		{"class action", Policy{Secrets: ClassPolicy{Action: Redact}}, func(t *testing.T, p Policy) {
			if p.Secrets.Action != Redact || p.PII.Action != Redact {
				t.Errorf("got %+v", p)
			}
		}},
		{"types merge one by one", Policy{PII: ClassPolicy{Types: map[string]Action{"email": Block, "iban": Pseudonymize}}}, func(t *testing.T, p Policy) {
			want := map[string]Action{"email": Block, "phone": Mask, "iban": Pseudonymize}
			if !reflect.DeepEqual(p.PII.Types, want) {
				t.Errorf("types = %v, want %v", p.PII.Types, want)
			}
		}},
		{"injection fields independently", Policy{Injection: InjectionPolicy{Threshold: 0.5}}, func(t *testing.T, p Policy) {
			if p.Injection.Action != Flag || p.Injection.Threshold != 0.5 {
				t.Errorf("injection = %+v", p.Injection)
			}
		}},
		{"output", Policy{Output: OutputPolicy{PII: ClassPolicy{Action: Mask}}}, func(t *testing.T, p Policy) {
			if p.Output.PII.Action != Mask || p.Output.Secrets.Action != Redact {
				t.Errorf("output = %+v", p.Output)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, base.Merge(tt.override))
			if base.PII.Types["email"] != Allow || len(base.PII.Types) != 2 {
				t.Fatalf("Merge changed the base's map: %v", base.PII.Types)
			}
		})
	}
}

func TestCheckReportsEveryProblem(t *testing.T) {
	p := Policy{
		PII:       ClassPolicy{Action: "shred", Types: map[string]Action{"": Redact, "email": "nope"}},
		Secrets:   ClassPolicy{Action: Pseudonymize},
		Injection: InjectionPolicy{Action: Redact, Threshold: 1.5},
		Output:    OutputPolicy{PII: ClassPolicy{Action: Pseudonymize}, Secrets: ClassPolicy{Types: map[string]Action{"aws": Mask}}},
	}
	err := p.Check()
	if err == nil {
		t.Fatal("Check() = nil for a policy full of mistakes")
	}
	for _, want := range []string{`pii.action "shred"`, "empty type name", `pii.types[email] "nope"`, `injection.action "redact"`, "injection.threshold 1.5", `output.pii.action "pseudonymize"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Check() error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "secrets") {
		t.Errorf("Check() refused valid secrets settings:\n%v", err)
	}
	if err := (Policy{Injection: InjectionPolicy{Threshold: math.NaN()}}).Check(); err == nil {
		t.Error("Check() accepted a NaN threshold")
	}
	if err := (Policy{}).Check(); err != nil {
		t.Errorf("zero policy (an empty override) refused: %v", err)
	}
}
