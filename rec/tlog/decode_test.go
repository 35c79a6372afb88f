package tlog

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// decodeLine decodes one line with a new Decoder.
func decodeLine(line []byte) (*Message, error) {
	var d Decoder
	m := &Message{}
	if err := d.Decode(line, m); err != nil {
		return nil, err
	}
	return m, nil
}

// header builds a message line from a field list, for decoder tests.
func header(fields string) []byte {
	return []byte("{" + fields + "}\n")
}

func TestDecodeEvents(t *testing.T) {
	line := `{"ver":"2.3","host":"vm","rec":"880036822e704a8f8b7f642af594eba7-493a-39e67","user":"root","term":"xterm","session":4294967295,"id":1,"pos":0,"time":1795350824.217,"timing":"=80x24+3>2+463<6[1/1>6]1/1>3]1/1<1>4+500=100x30+300>26]2/3<25>5+299<5>6","in_txt":"echo h�\rprintf '\\377\\342\\202x\\n'\rexit\r","in_bin":[233],"out_txt":"# echo h�\r\nh�\r\n# printf '\\377\\342\\202x\\n'\r\n��x\r\n# exit\r\n","out_bin":[233,233,255,226,130]}` + "\n"
	d, err := decodeLine([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if d.Ver != "2.3" || d.Major != 2 || d.Minor != 3 || d.Host != "vm" || d.Session != 4294967295 || d.ID != 1 ||
		!d.Time.Equal(time.UnixMilli(1795350824217)) || string(d.OutBin) != "\xe9\xe9\xff\xe2\x82" {
		t.Fatalf("header: %+v", d)
	}
	var in, out strings.Builder
	var kinds []string
	for _, ev := range d.Events {
		kinds = append(kinds, ev.Kind.String()+"@"+ev.T.String())
		switch ev.Kind {
		case KindIn:
			in.Write(ev.Data)
		case KindOut:
			out.Write(ev.Data)
		}
	}
	if in.String() != "echo h\xe9\rprintf '\\377\\342\\202x\\n'\rexit\r" ||
		out.String() != "# echo h\xe9\r\nh\xe9\r\n# printf '\\377\\342\\202x\\n'\r\n\xff\xe2\x82x\r\n# exit\r\n" {
		t.Fatalf("in %q out %q", in.String(), out.String())
	}
	wantKinds := "window@0s out@3ms in@466ms out@466ms in@466ms out@466ms window@966ms out@1.266s in@1.266s out@1.266s in@1.565s out@1.565s"
	if got := strings.Join(kinds, " "); got != wantKinds {
		t.Fatalf("events\n got %s\nwant %s", got, wantKinds)
	}
}

func TestDecodeLenient(t *testing.T) {
	// Integer ver, no rec/time/in_txt/out_txt, whitespace and zero records
	// in the timing, unknown fields, leftover text: all accepted as tlog does.
	d, err := decodeLine(header(`"ver":2,"host":"","user":"u","term":"","session":1,"id":0,"pos":7,"timing":" +0 <0 \n=1x2\t+5 >1 ","out_txt":"ab","in_bin":[],"out_bin":[],"vigil":{"sig":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	if d.Ver != "2" || d.Major != 2 || d.Rec != "" || !d.Time.IsZero() || len(d.Events) != 2 ||
		d.Events[0].Kind != KindWindow || d.Events[0].T != 7*ms || d.Events[0].Cols != 1 || d.Events[0].Rows != 2 ||
		d.Events[1].T != 12*ms || string(d.Events[1].Data) != "a" {
		t.Fatalf("%+v", d)
	}
	for _, v := range []string{`"2.2"`, `"1"`, `"0.9"`} {
		if _, err := decodeLine(header(`"ver":` + v + `,"host":"","user":"","term":"","session":1,"id":0,"pos":0,"timing":"","in_bin":[],"out_bin":[]`)); err != nil {
			t.Errorf("ver %s: %v", v, err)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	base := map[string]string{
		"ver": `"2.3"`, "host": `"vm"`, "rec": `"r"`, "user": `"root"`, "term": `"xterm"`, "session": `1`,
		"id": `1`, "pos": `0`, "time": `1.5`, "timing": `">1"`, "in_txt": `""`, "in_bin": `[]`, "out_txt": `"a"`, "out_bin": `[]`,
	}
	order := []string{"ver", "host", "rec", "user", "term", "session", "id", "pos", "time", "timing", "in_txt", "in_bin", "out_txt", "out_bin"}
	build := func(field, value string) []byte {
		var parts []string
		for _, k := range order {
			v := base[k]
			if k == field {
				if value == "" {
					continue
				}
				v = value
			}
			parts = append(parts, `"`+k+`":`+v)
		}
		return header(strings.Join(parts, ","))
	}
	if _, err := decodeLine(build("", "")); err != nil {
		t.Fatalf("base message: %v", err)
	}
	cases := []struct{ field, value, want string }{
		{"ver", "", `A message field is missing: "ver"`},
		{"ver", `"3.0"`, `Message has unsupported "ver" field value`},
		{"ver", `"2.3x"`, `Message has invalid "ver" field value`},
		{"ver", `"2."`, `Message has invalid "ver" field value`},
		{"ver", `2.5`, `A message field has invalid type: "ver"`},
		{"host", "", `A message field is missing: "host"`},
		{"user", `1`, `A message field has invalid type: "user"`},
		{"rec", `null`, `A message field has invalid type: "rec"`},
		{"session", `0`, `Message has invalid "session" field value`},
		{"session", `4294967296`, `Message has invalid "session" field value`},
		{"session", `1.0`, `A message field has invalid type: "session"`},
		{"id", `-1`, `Message has invalid "id" field value`},
		{"pos", `2147483648000`, `Message has invalid "pos" field value`},
		{"time", `1`, `A message field has invalid type: "time"`},
		{"time", `-1.5`, `Message has invalid "time" field value`},
		{"timing", "", `A message field is missing: "timing"`},
		{"timing", `">1x"`, `Message has invalid "timing" field value`},
		{"timing", `"]1"`, `Message has invalid "timing" field value`},
		{"timing", `"=65536x1"`, `Message has invalid "timing" field value`},
		{"timing", `"+2147483648000"`, `Message has invalid "timing" field value`},
		{"timing", `">2"`, `Message has invalid "out_txt" field value`},
		{"timing", `"<1"`, `Message has invalid "in_txt" field value`},
		{"timing", `"]1/1"`, `Message has invalid "out_bin" field value`},
		{"out_bin", `[256]`, ``},
		{"in_bin", "", `A message field is missing: "in_bin"`},
		{"out_bin", `{}`, `A message field has invalid type: "out_bin"`},
	}
	for _, c := range cases {
		_, err := decodeLine(build(c.field, c.value))
		if c.want == "" {
			if err != nil {
				t.Errorf("%s=%s: unused bad bin element must be ignored: %v", c.field, c.value, err)
			}
			continue
		}
		var fe *FieldError
		if err == nil || !strings.HasPrefix(err.Error(), c.want) || !errors.As(err, &fe) {
			t.Errorf("%s=%s: error %v, want %s", c.field, c.value, err, c.want)
		}
	}
	if _, err := decodeLine(build("timing", `"]1/1"`)); err == nil {
		t.Error("missing bin byte accepted")
	}
	for _, bad := range []string{``, `[1]`, `{"ver":"2.3"`, `null`} {
		if _, err := decodeLine([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
