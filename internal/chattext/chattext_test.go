package chattext

import "testing"

func TestSafe(t *testing.T) {
	cases := []struct {
		name string
		text string
		safe bool
	}{
		{"empty", "", true},
		{"plain", "Ann: hello", true},
		{"the five entities", "&amp;&lt;&gt;&quot;&#39;", true},
		{"tag", "<b>x</b>", false},
		{"lone close", "a > b", false},
		{"double quote", `say "hi"`, false},
		{"single quote", "it's", false},
		{"raw ampersand", "a & b", false},
		{"other entity", "&nbsp;", false},
		{"numeric entity", "&#60;", false},
		{"ampersand at end", "a&", false},
		{"invalid utf-8", "a\xffb", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := Safe(tc.text); (err == nil) != tc.safe {
				t.Fatalf("Safe(%q) = %v; want safe %v", tc.text, err, tc.safe)
			}
		})
	}
}
