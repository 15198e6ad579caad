package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wardenproject/warden/internal/detect"
	"github.com/wardenproject/warden/internal/guard/eval"
	"github.com/wardenproject/warden/internal/guard/injection"
)

func (a *app) guardCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "guard",
		Short: "Guardrail tools: measure the detectors on labelled data",
	}
	cmd.AddCommand(a.guardEvalCmd())
	return cmd
}

func (a *app) guardEvalCmd() *cobra.Command {
	var dataset string
	var threshold float64
	var asJSON bool
	var detectors []string
	var rot bool
	cmd := &cobra.Command{
		Use:   "eval --dataset FILE.jsonl",
		Short: "Print precision, recall and F1 of the detectors on a labelled dataset",
		Long: `Runs Warden's PII and secret detectors and its prompt-injection scorer on a
JSON Lines file and prints precision, recall and F1 per detector type and per
class. Each line is either

  {"text": "...", "spans": [{"start": 3, "end": 20, "type": "email"}]}

listing every finding in the text (byte offsets; any other finding counts as
a false positive), or

  {"text": "...", "label": "injection"}   (or "benign")

for the injection scorer at --threshold. Lines may give "text_rot13" instead
of "text" (how sets of fake keys are kept out of secret scanners' way).`,
		Example: `  warden guard eval --dataset internal/detect/testdata/pii.jsonl --detectors pii
  warden guard eval --dataset internal/detect/testdata/secrets.jsonl --rot13 --detectors secrets+generic
  warden guard eval --dataset internal/guard/injection/testdata/injection_blind.jsonl --threshold 0.8 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dataset == "" {
				return fmt.Errorf("give the labelled data with --dataset FILE.jsonl")
			}
			if threshold <= 0 || threshold > 1 {
				return fmt.Errorf("--threshold must be a score in (0, 1]")
			}
			f, err := os.Open(dataset)
			if err != nil {
				return err
			}
			defer f.Close()
			parse := eval.Parse
			if rot {
				parse = eval.ParseRot13
			}
			exs, err := parse(f)
			if err != nil {
				return fmt.Errorf("%s: %w", dataset, err)
			}
			var ds []detect.Detector
			for _, d := range detectors {
				switch d {
				case "pii":
					ds = append(ds, detect.NewPII(detect.PIIOptions{}))
				case "secrets":
					ds = append(ds, detect.NewSecrets(detect.SecretsOptions{}))
				case "secrets+generic":
					ds = append(ds, detect.NewSecrets(detect.SecretsOptions{Generic: true}))
				default:
					return fmt.Errorf("--detectors: %q is not pii, secrets or secrets+generic", d)
				}
			}
			h := injection.NewDefault(injection.Options{})
			rep, err := eval.Run(cmd.Context(), exs, eval.Options{
				Detectors: ds,
				Injection: scoreOnly{h},
				Threshold: threshold,
			})
			if err != nil {
				return err
			}
			types, classes := rep.Rows()
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"dataset": dataset, "examples": rep.Examples, "threshold": threshold, "types": types, "classes": classes})
			}
			fmt.Fprintf(out, "%s: %d examples\n\n", dataset, rep.Examples)
			tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
			for i, rows := range [][]eval.Row{types, classes} {
				head := "TYPE"
				if i == 1 {
					head = "CLASS"
					fmt.Fprintln(tw)
				}
				fmt.Fprintf(tw, "%s\tTP\tFP\tFN\tPRECISION\tRECALL\tF1\n", head)
				for _, r := range rows {
					fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.3f\t%.3f\t%.3f\n", r.Name, r.TP, r.FP, r.FN, r.Precision, r.Recall, r.F1)
				}
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&dataset, "dataset", "", "labelled JSON Lines file")
	cmd.Flags().Float64Var(&threshold, "threshold", 0.8, "injection score from which a text counts as an injection")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&rot, "rot13", false, "every string in the file is rot13-encoded (how the fake-key sets are stored)")
	cmd.Flags().StringSliceVar(&detectors, "detectors", []string{"pii", "secrets"},
		"detectors to run: pii, secrets, secrets+generic (adds high-entropy values assigned to key/secret/password names); the default is what warden serve runs")
	return cmd
}

// scoreOnly adapts the heuristic scorer to eval.Scorer.
type scoreOnly struct{ h injection.Scorer }

func (s scoreOnly) Score(ctx context.Context, text string) (float64, error) {
	r, err := s.h.Score(ctx, text)
	return r.Score, err
}
