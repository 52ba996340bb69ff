package units

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

var updateDoc = flag.Bool("update", false, "rewrite the generated part of docs/units.md")

const (
	docPath   = "../docs/units.md"
	docMarker = "<!-- Generated from the unit structs by TestUnitsDoc (go test ./units -run TestUnitsDoc -update): edit the code, not below. -->\n"
)

// fieldDoc is one key as the source documents it.
type fieldDoc struct {
	name, typ, doc string
}

// structDocs reads the field comments of the section structs from the
// package's source: the comment on a field, or, for a field declared on the
// line right after one without a comment of its own, that field's comment.
func structDocs(t *testing.T) map[string][]fieldDoc {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]fieldDoc{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(af, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return true
			}
			prevLine, prevDoc := -10, ""
			for _, fl := range st.Fields.List {
				doc := strings.TrimSpace(fl.Doc.Text() + " " + fl.Comment.Text())
				line := fset.Position(fl.Pos()).Line
				if doc == "" && line == prevLine+1 {
					doc = prevDoc
				}
				// Only a comment above a field speaks for the fields below it.
				if fl.Doc != nil {
					prevDoc = doc
				} else if fl.Comment != nil {
					prevDoc = ""
				}
				prevLine = fset.Position(fl.End()).Line
				for _, nm := range fl.Names {
					out[ts.Name.Name] = append(out[ts.Name.Name], fieldDoc{nm.Name, typeString(fl.Type), strings.Join(strings.Fields(doc), " ")})
				}
				if len(fl.Names) == 0 {
					out[ts.Name.Name] = append(out[ts.Name.Name], fieldDoc{name: "", typ: typeString(fl.Type)})
				}
			}
			return true
		})
	}
	return out
}

func typeString(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.StarExpr:
		return "*" + typeString(e.X)
	}
	return fmt.Sprintf("%T", e)
}

var docTypes = map[string]string{
	"string": "string", "bool": "boolean", "*bool": "boolean", "int": "integer", "*int": "integer",
	"List": "list of strings", "Commands": "command lines", "Duration": `duration ("5s", "1min 30s")`,
	"*FileMode": `octal string ("0755")`, "*Rlimit": `limit (N, "infinity", "SOFT:HARD")`,
	"Bytes": `size (N, "64M", "infinity")`, "Count": `count (N, "infinity")`,
	"ExitStatusSet": `exit statuses (1, "2 SIGTERM")`, "Choice": "boolean or word",
}

// sectionDocs lists each section with the kind used to read its defaults.
var sectionDocs = []struct {
	name, kind string
	structs    []string
}{
	{"Unit", "target", []string{"UnitSection"}},
	{"Service", "service", []string{"ServiceSection", "Sandbox"}},
	{"Socket", "socket", []string{"SocketSection"}},
	{"Mount", "mount", []string{"MountSection"}},
	{"Timer", "timer", []string{"TimerSection"}},
	{"Path", "path", []string{"PathSection"}},
	{"Install", "target", []string{"InstallSection"}},
}

// defaults parses a minimal unit of each kind and returns its section
// values, which are the defaults validation fills in.
func defaults(t *testing.T, kind, sec string) reflect.Value {
	src := map[string]string{
		"service": "[Service]\nExecStart = \"/bin/true\"\n",
		"socket":  "[Socket]\nListenStream = \"/run/a.sock\"\n",
		"mount":   "[Mount]\nWhat = \"/dev/vda\"\nWhere = \"/a\"\n",
		"timer":   "[Timer]\nOnBootSec = \"1min\"\n",
		"path":    "[Path]\nPathExists = \"/x\"\n",
		"target":  "",
	}[kind]
	u, err := Parse("a."+kind+".toml", []byte(src))
	if err != nil {
		t.Fatalf("minimal %s: %v", kind, err)
	}
	if sec == "Path" {
		sec = "PathUnit"
	}
	return reflect.ValueOf(u).Elem().FieldByName(sec)
}

func formatDefault(v reflect.Value, name, sec string) string {
	switch name {
	case "ExecStart", "ListenStream", "What", "Where", "OnBootSec", "PathExists":
		return "" // set by the minimal unit, no default
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	if v.IsZero() {
		return ""
	}
	if d, ok := v.Interface().(Duration); ok {
		return d.D().String()
	}
	if s, ok := v.Interface().(fmt.Stringer); ok {
		return s.String()
	}
	out := fmt.Sprint(v.Interface())
	// The minimal units are named "a.KIND": their name is the unit's.
	if out == "a" || strings.HasPrefix(out, "a.") {
		out = "NAME" + strings.TrimPrefix(out, "a")
	}
	return out
}

func escapeCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// renderDoc writes the generated part of docs/units.md.
func renderDoc(t *testing.T) string {
	docs := structDocs(t)
	var b strings.Builder
	b.WriteString(docMarker)
	for _, sd := range sectionDocs {
		fmt.Fprintf(&b, "\n### [%s]\n\n| Key | Type | Default | Meaning |\n| --- | --- | --- | --- |\n", sd.name)
		dv := defaults(t, sd.kind, sd.name)
		for _, st := range sd.structs {
			for _, f := range docs[st] {
				if f.name == "" {
					continue // the embedded Sandbox, listed on its own
				}
				typ, ok := docTypes[f.typ]
				if !ok {
					t.Errorf("%s.%s: no documented type for %s", sd.name, f.name, f.typ)
				}
				if f.doc == "" {
					t.Errorf("%s.%s: the field has no comment to document it", sd.name, f.name)
				}
				def := formatDefault(dv.FieldByName(f.name), f.name, sd.name)
				if def != "" {
					def = "`" + def + "`"
				}
				fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", f.name, escapeCell(typ), def, escapeCell(f.doc))
			}
		}
	}
	b.WriteString("\n### systemd directives read differently or not at all\n\n")
	b.WriteString("`sctl convert` and `smimage` apply these when they read a systemd unit file; every other directive of systemd that is not a key above is left out and reported as not supported.\n\n")
	b.WriteString("| systemd directive | Here | Why |\n| --- | --- | --- |\n")
	type row struct{ key, here, why string }
	var rows []row
	for k, v := range renamed {
		rows = append(rows, row{k, "read as `" + v + "`", "its current name or section"})
	}
	for k, v := range simpleTypes {
		rows = append(rows, row{"Service.Type=" + k, "`simple`", v})
	}
	for k, v := range outputAliases {
		rows = append(rows, row{"Service.StandardOutput=" + k, "`" + v + "`", "output goes to the manager's log and its console"})
	}
	rows = append(rows, row{"Service.PermissionsStartOnly", "`+` on every command but ExecStart", "what the old key meant"})
	rows = append(rows, row{"Service.Slice", "kept only as `system.slice`", "there are no other slice units"})
	for k, v := range harmless {
		rows = append(rows, row{k, "ignored", v})
	}
	for k, v := range unsupportedWhy {
		rows = append(rows, row{k, "not supported", v})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].key < rows[j].key })
	for _, r := range rows {
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", r.key, r.here, escapeCell(r.why))
	}
	return b.String()
}

// TestUnitsDoc fails when the generated part of docs/units.md is not what
// the code says: a key added, removed or redocumented without the doc.
func TestUnitsDoc(t *testing.T) {
	got := renderDoc(t)
	data, err := os.ReadFile(docPath)
	if err != nil && !*updateDoc {
		t.Fatal(err)
	}
	head, _, found := strings.Cut(string(data), docMarker)
	if *updateDoc {
		if !found {
			head = string(data)
		}
		if err := os.WriteFile(docPath, []byte(head+got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !found {
		t.Fatalf("%s has no generated part (run go test ./units -run TestUnitsDoc -update)", docPath)
	}
	if string(data) != head+got {
		t.Errorf("%s is out of date with the code: run go test ./units -run TestUnitsDoc -update", docPath)
	}
}
