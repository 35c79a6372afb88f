package ldaprules

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-rec/vigil/policyd/ldaprules/slapdtest"
)

// TestSchemaFilesAgree: vigil.schema and vigil.ldif define the same
// attribute types and object classes, in the same order.
func TestSchemaFilesAgree(t *testing.T) {
	schema, err := os.ReadFile("../../conf/ldap/vigil.schema")
	if err != nil {
		t.Fatal(err)
	}
	ldif, err := os.ReadFile("../../conf/ldap/vigil.ldif")
	if err != nil {
		t.Fatal(err)
	}
	fromSchema, fromLDIF := schemaDefs(t, string(schema)), ldifDefs(string(ldif))
	if len(fromSchema) != 11 {
		t.Errorf("vigil.schema has %d definitions, want 9 attribute types and 2 object classes", len(fromSchema))
	}
	if !slices.Equal(fromSchema, fromLDIF) {
		t.Errorf("vigil.schema and vigil.ldif differ:\n%s\n---\n%s", strings.Join(fromSchema, "\n"), strings.Join(fromLDIF, "\n"))
	}
}

// schemaDefs returns "attributetype ( ... )" and "objectclass ( ... )"
// definitions of a slapd.conf schema file, whitespace collapsed.
func schemaDefs(t *testing.T, src string) []string {
	var text []string
	for _, line := range strings.Split(src, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			text = append(text, line)
		}
	}
	words := strings.Join(strings.Fields(strings.Join(text, " ")), " ")
	var defs []string
	for words != "" {
		kw, rest, _ := strings.Cut(words, " ")
		kind := map[string]string{"attributetype": "attr", "objectclass": "class"}[strings.ToLower(kw)]
		if kind == "" {
			t.Fatalf("vigil.schema: unexpected %q", kw)
		}
		// The definition ends at the parenthesis closing the first one;
		// quoted descriptions may hold parentheses.
		depth, quoted, end := 0, false, -1
		for i := 0; i < len(rest) && end < 0; i++ {
			switch c := rest[i]; {
			case c == '\'':
				quoted = !quoted
			case c == '(' && !quoted:
				depth++
			case c == ')' && !quoted:
				if depth--; depth == 0 {
					end = i + 1
				}
			}
		}
		if end < 0 {
			t.Fatalf("vigil.schema: unterminated %s", kw)
		}
		defs = append(defs, kind+" "+rest[:end])
		words = strings.TrimSpace(rest[end:])
	}
	return defs
}

// ldifDefs returns the olcAttributeTypes and olcObjectClasses values of a
// cn=config LDIF, unfolded and whitespace collapsed.
func ldifDefs(src string) []string {
	var lines []string
	for _, line := range strings.Split(src, "\n") {
		if strings.HasPrefix(line, " ") && len(lines) > 0 {
			lines[len(lines)-1] += line[1:] // RFC 2849 folding
		} else if !strings.HasPrefix(line, "#") {
			lines = append(lines, line)
		}
	}
	var defs []string
	for _, line := range lines {
		name, value, _ := strings.Cut(line, ":")
		if kind := map[string]string{"olcattributetypes": "attr", "olcobjectclasses": "class"}[strings.ToLower(name)]; kind != "" {
			defs = append(defs, kind+" "+strings.Join(strings.Fields(value), " "))
		}
	}
	return defs
}

// TestSchemaLDIF loads vigil.ldif into a slapd configured by cn=config,
// the way its header says (ldapadd -Y EXTERNAL over ldapi), and then
// example.ldif into a database added the same way.
func TestSchemaLDIF(t *testing.T) {
	t.Parallel()
	s := slapdtest.Start(t, slapdtest.Options{CNConfig: true})
	ldapadd := func(stdin string, args ...string) {
		t.Helper()
		cmd := slapdtest.Command("ldapadd", append([]string{"-H", s.LDAPIURI()}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ldapadd %q: %v\n%s", args, err, out)
		}
	}
	ldapadd("", "-Y", "EXTERNAL", "-f", "../../conf/ldap/vigil.ldif")
	ldapadd(fmt.Sprintf(`dn: olcDatabase=mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: mdb
olcSuffix: %s
olcRootDN: %s
olcRootPW: %s
olcDbDirectory: %s
olcDbMaxSize: 16777216
`, suffix, slapdtest.RootDN, slapdtest.RootPW, t.TempDir()), "-Y", "EXTERNAL")
	s.Add(suffix, map[string][]string{"objectClass": {"dcObject", "organization"}, "dc": {"example"}, "o": {"Example"}})
	s.Ldapadd("../../conf/ldap/example.ldif")
}
