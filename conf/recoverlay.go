package conf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// RecOverlay is a partial recorder configuration: the keys a policy rule
// sets for its sessions. Its JSON form is what PAM hands the recorder in
// VIGIL_REC_CONF (and TLOG_REC_SESSION_CONF_TEXT), on top of rec.toml.
type RecOverlay struct {
	vals map[int]any // recFields index -> int64, bool or string
}

// Len says how many keys the overlay sets.
func (o RecOverlay) Len() int { return len(o.vals) }

// VigilOnly returns the keys the overlay sets that only Vigil's recorder
// understands (sign.*, transfer.*), in schema order.
func (o RecOverlay) VigilOnly() []string {
	var keys []string
	for i := range recFields {
		if _, set := o.vals[i]; set && recFields[i].vigil {
			keys = append(keys, recFields[i].key)
		}
	}
	return keys
}

// set checks v against the schema key and stores it.
func (o *RecOverlay) set(key string, v any, at origin) error {
	i, ok := fieldIndex[key]
	if !ok {
		return at.errorf(key, "unknown recorder key")
	}
	f := &recFields[i]
	if _, ok := tomlValue(f.kind, v); !ok {
		return at.errorf(key, "must be %s (got %T)", f.kind, v)
	}
	if msg := f.check(v); msg != "" {
		return at.errorf(key, "%s", msg)
	}
	if o.vals == nil {
		o.vals = make(map[int]any)
	}
	o.vals[i] = v
	return nil
}

// SetText sets key from its text form ("true", "4096", "journal"), as LDAP
// attributes carry it. file and line locate the source in errors.
func (o *RecOverlay) SetText(key, text, file string, line int) error {
	at := origin{file: file, line: line}
	i, ok := fieldIndex[key]
	if !ok {
		return at.errorf(key, "unknown recorder key")
	}
	var v any = text
	switch recFields[i].kind {
	case kindInt:
		n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
		if err != nil {
			return at.errorf(key, "must be an integer (got %q)", text)
		}
		v = n
	case kindBool:
		b, err := parseBool(strings.TrimSpace(text))
		if err != nil {
			return at.errorf(key, "%s", err.Error())
		}
		v = b
	}
	return o.set(key, v, at)
}

// mergeTree sets every leaf of a decoded TOML table (e.g. a rule's "rec"
// table); prefix is the table's own path, for locating keys.
func (o *RecOverlay) mergeTree(tree map[string]any, file string, lines keyLines, prefix []string) error {
	for _, k := range sortedKeys(tree) {
		path := append(append([]string(nil), prefix...), k)
		at := origin{file: file, line: lines.find(path)}
		if sub, ok := tree[k].(map[string]any); ok {
			if !recTables[k] || len(prefix) > 0 && recTables[prefix[len(prefix)-1]] {
				return at.errorf(k, "unknown recorder table")
			}
			for _, leaf := range sortedKeys(sub) {
				lp := append(append([]string(nil), path...), leaf)
				if err := o.set(k+"."+leaf, sub[leaf], origin{file: file, line: lines.find(lp)}); err != nil {
					return err
				}
			}
			continue
		}
		if err := o.set(k, tree[k], at); err != nil {
			return err
		}
	}
	return nil
}

// Apply overlays the keys on r.
func (o RecOverlay) Apply(r *Rec) {
	for i, v := range o.vals {
		// Values were checked when set.
		_ = r.set(i, v, origin{file: "policy"})
	}
}

// Keys returns "key=value" pairs in schema order, for people.
func (o RecOverlay) Keys() []string {
	var out []string
	for i := range recFields {
		if v, ok := o.vals[i]; ok {
			out = append(out, fmt.Sprintf("%s=%v", recFields[i].key, v))
		}
	}
	return out
}

// JSON returns the overlay as a compact tlog-schema JSON object ("{}" when
// empty), in schema order (whose tables are contiguous).
func (o RecOverlay) JSON() []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	table, outer, inner := "", 0, 0
	for i := range recFields {
		v, ok := o.vals[i]
		if !ok {
			continue
		}
		t, leaf, nested := strings.Cut(recFields[i].key, ".")
		if !nested {
			t, leaf = "", t
		}
		if t != table && table != "" {
			b.WriteByte('}')
		}
		if t == "" || t != table {
			if outer > 0 {
				b.WriteByte(',')
			}
			outer++
			inner = 0
			if t != "" {
				b.WriteString(strconv.Quote(t) + ":{")
			}
		}
		table = t
		if inner > 0 {
			b.WriteByte(',')
		}
		inner++
		val, _ := json.Marshal(v) // int64, bool, string: cannot fail
		b.WriteString(strconv.Quote(leaf) + ":")
		b.Write(val)
	}
	if table != "" {
		b.WriteByte('}')
	}
	b.WriteByte('}')
	return b.Bytes()
}
