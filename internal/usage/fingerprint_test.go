package usage

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestNormalizeSQLGolden normalizes every testdata/normalize/*.sql and
// compares with the .golden beside it (go test -update rewrites them).
func TestNormalizeSQLGolden(t *testing.T) {
	t.Parallel()
	inputs, err := filepath.Glob(filepath.Join("testdata", "normalize", "*.sql"))
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".sql")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got := NormalizeSQL(string(src))
			golden := strings.TrimSuffix(in, ".sql") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("NormalizeSQL:\n got %q\nwant %q", got, want)
			}
			checkNormalized(t, string(src), got)
		})
	}
}

func TestNormalizeSQL(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"date literal", "WHERE d = DATE '2024-01-01'", "where d = date ?"},
		{"interval", "now() - INTERVAL '7' DAY", "now() - interval ? day"},
		{"in list", "a IN (1,2, 3)", "a in (?)"},
		{"in list of strings", "a in ( 'x' , 'y' )", "a in (?)"},
		{"not only literals", "a IN (1, b)", "a in (?, b)"},
		{"values rows", "VALUES (1, 'a'), (2, 'b'),(3,'c')", "values (?)"},
		{"function call kept", "f(1), (2)", "f(?), (?)"},
		{"digits in identifiers", "SELECT t1.col_2 FROM x9", "select t1.col_2 from x9"},
		{"digit-leading hive name", "FROM 2019_data", "from 2019_data"},
		{"qualified fraction is not a number", "t.5", "t.?"},
		{"leading dot number", "x = .5", "x = ?"},
		{"exponent signs", "1e+5 - 2E-3 + 1.5e-7", "? - ? + ?"},
		{"hex", "0xFF 0XaB", "? ?"},
		{"hive suffixes", "10L 20Y 3S 1.5BD 7.0D", "? ? ? ? ?"},
		{"quoted kept", `"MyCol" , "a""b 1"`, `"MyCol", "a""b 1"`},
		{"backticks kept", "`My Col 2`", "`My Col 2`"},
		{"line comment", "SELECT 1 -- user: bob\nFROM t", "select ? from t"},
		{"block comment joins nothing", "a/**/b", "a b"},
		{"unterminated block", "a /* b", "a"},
		{"unterminated string", "a = 'b", "a = ?"},
		{"e string backslash", `E'a\'b' c`, "? c"},
		{"unicode string", `U&'\0041' c`, "? c"},
		{"hex string", "X'CAFE' c", "? c"},
		{"e is a word otherwise", "e 'x'", "e ?"},
		{"trailing semicolons", "select 1 ; ;\n", "select ?"},
		{"inner semicolon", "a; b;", "a; b"},
		{"parameters", "a = ? AND b IN (?, ?)", "a = ? and b in (?)"},
		{"nul is space", "a\x00b", "a b"},
		{"omitted marker", OmittedText, "***omitted***"},
		{"empty", "", ""},
		{"only comment", "-- nothing", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := NormalizeSQL(tt.in); got != tt.want {
				t.Errorf("NormalizeSQL(%q) = %q, want %q", tt.in, got, tt.want)
			}
			checkNormalized(t, tt.in, NormalizeSQL(tt.in))
		})
	}
}

func TestFingerprintClusters(t *testing.T) {
	t.Parallel()
	same := [][]string{
		{
			"SELECT * FROM sales WHERE region = 'eu' AND amount > 100",
			"select *\n  from SALES\n where REGION = 'us-east-1' and amount > 2.5e3;",
			"/* dashboard 7 */ SELECT * FROM sales WHERE region = 'it''s' AND amount > 0x10 -- user: carol",
		},
		{
			"SELECT id FROM t WHERE id IN (1, 2, 3)",
			"SELECT id FROM t WHERE id IN (42)",
			"select id from t where id in ( 'a','b' )",
		},
		{
			"INSERT INTO t VALUES (1, 'a')",
			"INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')",
		},
		{
			"SELECT count(*) FROM logs WHERE dt = DATE '2024-01-01'",
			"SELECT count(*) FROM logs WHERE dt = DATE '2025-12-31'",
		},
	}
	different := [][2]string{
		{"SELECT a FROM t", "SELECT b FROM t"},
		{"SELECT a FROM t1", "SELECT a FROM t2"},
		{`SELECT "A" FROM t`, `SELECT "a" FROM t`},
		{"SELECT a FROM t WHERE x = 1", "SELECT a FROM t WHERE x > 1"},
		{"SELECT a FROM t WHERE x IN (1, 2)", "SELECT a FROM t WHERE x = 1"},
		{"SELECT a FROM t WHERE d = DATE '2024-01-01'", "SELECT a FROM t WHERE d = TIMESTAMP '2024-01-01'"},
	}
	for i, group := range same {
		want := Fingerprint(group[0])
		if want == "" {
			t.Fatalf("group %d: no fingerprint for %q", i, group[0])
		}
		for _, q := range group[1:] {
			if got := Fingerprint(q); got != want {
				t.Errorf("group %d: Fingerprint(%q) = %s, want %s (%q vs %q)", i, q, got, want, NormalizeSQL(q), NormalizeSQL(group[0]))
			}
		}
	}
	for _, d := range different {
		if a, b := Fingerprint(d[0]), Fingerprint(d[1]); a == b {
			t.Errorf("%q and %q share fingerprint %s", d[0], d[1], a)
		}
	}
}

func TestFingerprintForm(t *testing.T) {
	t.Parallel()
	// The fingerprint of a known text is fixed across releases: a change
	// here splits every stored shape from new ones, so it must come with a
	// new FingerprintVersion.
	if got, want := Fingerprint("SELECT 1"), "v1-e1c71d1661ae46e0"; got != want {
		t.Errorf("Fingerprint(SELECT 1) = %s, want %s", got, want)
	}
	for _, none := range []string{"", OmittedText, "-- only a comment", "  \n\t"} {
		if got := Fingerprint(none); got != "" {
			t.Errorf("Fingerprint(%q) = %q, want none", none, got)
		}
	}
	re := regexp.MustCompile(`^v1-[0-9a-f]{16}$`)
	if fp := Fingerprint("select * from t"); !re.MatchString(fp) {
		t.Errorf("Fingerprint = %q, want v1- and 16 hex digits", fp)
	}
}

func TestNormalizeSQLLargeInputs(t *testing.T) {
	t.Parallel()
	// 256 KB texts of the worst kinds for a scanner that looks back or
	// ahead: one huge IN list, deep parentheses, an unterminated comment,
	// and many unclosed lists.
	const size = 256 << 10
	tests := []struct{ name, in, wantPrefix string }{
		{"huge in list", "SELECT a FROM t WHERE a IN (" + strings.Repeat("1, ", size/3) + "2)", "select a from t where a in (?)"},
		{"deep parentheses", strings.Repeat("(", size/2) + strings.Repeat("1)", size/4), "((((("},
		{"unterminated comment", "SELECT /*" + strings.Repeat("x", size), "select"},
		{"unclosed lists", strings.Repeat("(?, ?, ?, a)", size/12), "(?, ?, ?, a)"},
		{"rows", "VALUES " + strings.Repeat("(1, 'x'), ", size/10) + "(2, 'y')", "values (?)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := NormalizeSQL(tt.in)
			if !strings.HasPrefix(got, tt.wantPrefix) {
				t.Errorf("NormalizeSQL = %.80q..., want prefix %q", got, tt.wantPrefix)
			}
			checkNormalized(t, tt.in, got)
		})
	}
}

// checkNormalized checks what every normalized text must satisfy: it is a
// fixed point, holds no number (a run of digits standing alone outside
// quoted identifiers), no string literal, no comment marker outside quotes,
// and no control byte; and it grows only by the space after a comma.
func checkNormalized(t *testing.T, in, out string) {
	t.Helper()
	if again := NormalizeSQL(out); again != out {
		t.Errorf("not idempotent:\n once  %.200q\n twice %.200q", out, again)
	}
	// Only the space after a comma is ever added.
	if len(out) > len(in)+strings.Count(in, ",") {
		t.Errorf("output (%d bytes) longer than input (%d bytes) and its commas", len(out), len(in))
	}
	for i := 0; i < len(out); {
		c := out[i]
		switch {
		case c == '"' || c == '`':
			i = skipQuoted(out, i, c)
			continue
		case c == '\'':
			t.Errorf("string quote at %d outside quoted identifiers: %.200q", i, out)
			return
		case c < ' ' || c == 0x7f:
			t.Errorf("control byte %#x at %d: %.200q", c, i, out)
			return
		case c == '-' && i+1 < len(out) && out[i+1] == '-', c == '/' && i+1 < len(out) && out[i+1] == '*':
			t.Errorf("comment marker at %d: %.200q", i, out)
			return
		case isWordByte(c):
			end := i
			for end < len(out) && isWordByte(out[end]) {
				end++
			}
			if allDigits(out[i:end]) {
				t.Errorf("number %q left at %d: %.200q", out[i:end], i, out)
				return
			}
			i = end
			continue
		}
		i++
	}
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

func FuzzNormalizeSQL(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "normalize", "*.sql"))
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(string(b))
		}
	}
	for _, s := range []string{"'", `"`, "`", "/*", "--", "E'\\", "U&'", "1e+", "1.e-5x", ".5.5", "((?, ?), (?, ?))", "(?), (?), (?)", "a;;", "\xff1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := NormalizeSQL(in)
		checkNormalized(t, in, out)
		if utf8.ValidString(in) && !utf8.ValidString(out) {
			t.Errorf("valid UTF-8 in, invalid out: %q -> %q", in, out)
		}
		if fp := Fingerprint(in); fp != "" && fp != Fingerprint(out) && in != OmittedText {
			t.Errorf("fingerprint of the normalized text differs: %q", in)
		}
	})
}

func BenchmarkFingerprint(b *testing.B) {
	src, err := os.ReadFile(filepath.Join("testdata", "normalize", "panther_windows.sql"))
	if err != nil {
		b.Fatal(err)
	}
	text := string(src)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		Fingerprint(text)
	}
}
