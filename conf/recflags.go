package conf

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// RecFlags are the recorder's command-line options (tlog-rec's names plus
// Vigil's), the highest configuration layer.
type RecFlags struct {
	fs     *pflag.FlagSet
	values [numRecKeys]*flagValue
}

// AddRecFlags registers the recorder options on fs.
func AddRecFlags(fs *pflag.FlagSet) *RecFlags {
	rf := &RecFlags{fs: fs}
	for i := range recFields {
		f := &recFields[i]
		v := &flagValue{f: f}
		rf.values[i] = v
		fl := fs.VarPF(v, f.flag, f.short, f.usage)
		if f.kind == kindBool {
			// Bare --log-input means true; a value needs "=", as in tlog.
			fl.NoOptDefVal = "true"
		}
	}
	return rf
}

// Apply overlays the options that were given on r. Errors name the option.
func (rf *RecFlags) Apply(r *Rec) error {
	merged := *r
	for i, v := range rf.values {
		if !rf.fs.Changed(v.f.flag) {
			continue
		}
		if err := merged.set(i, v.v, origin{option: "--" + v.f.flag}); err != nil {
			return err
		}
	}
	*r = merged
	return nil
}

// flagValue is a pflag.Value holding one schema key's parsed value.
type flagValue struct {
	f *field
	v any // int64, bool or string; nil until set
}

func (v *flagValue) String() string {
	if v.v == nil {
		return "" // no "(default ...)" in help: defaults come from the layers below
	}
	return fmt.Sprint(v.v)
}

func (v *flagValue) Type() string {
	return [...]string{"int", "bool", "string"}[v.f.kind]
}

// Set parses s; ranges are checked by Apply, with the other layers' rules.
func (v *flagValue) Set(s string) error {
	switch v.f.kind {
	case kindInt:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("must be an integer (got %q)", s)
		}
		v.v = n
	case kindBool:
		b, err := parseBool(s)
		if err != nil {
			return err
		}
		v.v = b
	default:
		v.v = s
	}
	return nil
}

// parseBool accepts the spellings tlog users write.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "yes", "on", "1":
		return true, nil
	case "false", "no", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("must be true/false, yes/no, on/off or 1/0 (got %q)", s)
}
