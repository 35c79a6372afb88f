package main

import (
	"fmt"
	"io"

	"github.com/vigil-rec/vigil/rec/store"
	"github.com/vigil-rec/vigil/rec/verify"
)

// printVerdicts prints what a verification of signed records found
// (verify-purges, access-log): reps as JSON, or a line each, "HEAD: STATE[:
// DETAIL]TAIL" from line, or none when there are no reports. It returns
// exit status 1 when a report is not OK, naming what they are.
func printVerdicts[R any](w io.Writer, reps []R, asJSON bool, none, what string, line func(*R) (v *store.Verdict, head, tail string)) error {
	if asJSON {
		if err := printJSON(w, reps); err != nil {
			return err
		}
	} else if len(reps) == 0 {
		fmt.Fprintln(w, none)
	}
	bad := 0
	for i := range reps {
		v, head, tail := line(&reps[i])
		if v.State != verify.OK {
			bad++
		}
		if asJSON {
			continue
		}
		fmt.Fprintf(w, "%s: %s", head, v.StateName)
		if v.Detail != "" {
			fmt.Fprintf(w, ": %s", v.Detail)
		}
		fmt.Fprintln(w, tail)
	}
	if bad > 0 {
		return &exitError{1, fmt.Errorf("%d of %d %s are not OK", bad, len(reps), what)}
	}
	return nil
}
