package pgstore

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/vigil-rec/vigil/play/collector/pgtest"
	"github.com/vigil-rec/vigil/play/internal/recgen"
)

// candidates returns the files Candidates lists for text.
func candidates(t *testing.T, s *Store, text string) string {
	t.Helper()
	recs, err := s.Candidates(testCtx(t), Filter{}, text)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, r := range recs {
		files = append(files, r.File)
	}
	return strings.Join(files, " ")
}

// The texts stored as recordings arrive tell which recordings may hold a
// text: those that show it, on screen or typed, and those stored before
// texts were kept.
func TestCandidates(t *testing.T) {
	s := open(t, pgtest.DB(t))
	enroll(t, s, "vm", nil)
	one := recgen.Record("r1", []recgen.Chunk{{T: 0, Data: []byte("$ cat notes\r\nthe secret is 50% _x_\r\n$ ")}})
	two := recgen.Record("r2", []recgen.Chunk{{T: 0, Data: []byte("$ ls\r\nfiles\r\n" + strings.Repeat("filler\r\n", 500))},
		{T: time.Second, Data: []byte("more files\r\n")}})
	appendAll(t, s, "vm", "one.jsonl", [][]byte{one})
	// Two appends, the second by a collector that did not see the first
	// (its screen rebuilt from the stored bytes, their texts not again).
	i := bytes.LastIndexByte(two[:bytes.Index(two, []byte("more files"))], '\n') + 1
	appendAll(t, s, "vm", "two.jsonl", [][]byte{two[:i]})
	s.verifier.take(getRecording(t, s, "vm", "two.jsonl").ID)
	if _, err := s.Append(testCtx(t), "vm", "two.jsonl", int64(i), two[i:]); err != nil {
		t.Fatal(err)
	}

	for text, want := range map[string]string{
		"":               "one.jsonl two.jsonl",
		"secret":         "one.jsonl",
		"50% _x_":        "one.jsonl",
		"50%%":           "",
		"_y_":            "",
		"more files":     "two.jsonl",
		"files":          "two.jsonl",
		"cat notes":      "one.jsonl",
		"nowhere at all": "",
	} {
		if got := candidates(t, s, text); got != want {
			t.Errorf("Candidates(%q) = %q, want %q", text, got, want)
		}
	}
	rows := func(table string) int {
		var n int
		if err := s.pool.QueryRow(testCtx(t), `SELECT count(*) FROM `+table+` t JOIN recordings r ON r.id = t.recording_id
			WHERE r.file = 'two.jsonl' AND t.body LIKE '%files%'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := rows("texts_recent"); n != 2 {
		t.Errorf("recent rows of two.jsonl's texts with files: %d, want 2 (one per append, none again)", n)
	}
	// Folding moves them into the index, both appends in one row, and
	// finds the same.
	if n, err := s.FoldTexts(testCtx(t)); err != nil || n != 3 {
		t.Fatalf("FoldTexts: %d rows moved, %v; want 3 (one append of one, two of two)", n, err)
	}
	if recent, indexed := rows("texts_recent"), rows("texts"); recent != 0 || indexed != 1 {
		t.Errorf("after folding, rows with files: %d recent, %d indexed; want 0 and 1", recent, indexed)
	}
	for text, want := range map[string]string{"secret": "one.jsonl", "more files": "two.jsonl", "nowhere at all": ""} {
		if got := candidates(t, s, text); got != want {
			t.Errorf("after folding, Candidates(%q) = %q, want %q", text, got, want)
		}
	}
	if n, err := s.FoldTexts(testCtx(t)); err != nil || n != 0 {
		t.Errorf("FoldTexts again: %d, %v; want nothing to fold", n, err)
	}
	// A backlog is folded in batches, all of it.
	recOne := getRecording(t, s, "vm", "one.jsonl")
	var backlog [][]any
	for i := range 2*foldBatch + 10 {
		body := fmt.Sprint("backlog ", i)
		backlog = append(backlog, []any{recOne.ID, recOne.Month, 1000 + i, body, textGrams(body)})
	}
	if _, err := s.pool.CopyFrom(testCtx(t), pgx.Identifier{"texts_recent"}, []string{"recording_id", "month", "off", "body", "grams"},
		pgx.CopyFromRows(backlog)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.FoldTexts(testCtx(t)); err != nil || n != 2*foldBatch+10 || rows("texts_recent") != 0 {
		t.Errorf("FoldTexts of a backlog: %d moved, %v", n, err)
	}
	if got := candidates(t, s, fmt.Sprint("backlog ", 2*foldBatch+9)); got != "one.jsonl" {
		t.Errorf("after folding the backlog, its last text is in %q", got)
	}
	// A recording stored before texts were kept may hold anything.
	if _, err := s.pool.Exec(testCtx(t), "UPDATE recordings SET texts_from = 10 WHERE file = 'two.jsonl'"); err != nil {
		t.Fatal(err)
	}
	if got := candidates(t, s, "secret"); got != "one.jsonl two.jsonl" {
		t.Errorf("Candidates with an unindexed recording: %q", got)
	}
}
