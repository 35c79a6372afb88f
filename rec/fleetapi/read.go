package fleetapi

import (
	"time"

	"github.com/vigil-rec/vigil/rec/store"
)

// The read side: what auditors' tools (vigil-play --server) ask of the
// collector. Every endpoint is a GET and answers only readers: over HTTPS
// a client whose certificate's key is an enrolled reader's (`vigil-collector
// readers add`), and over the collector's local socket whoever may open it
// (the socket file's group). Hosts' keys cannot read.
const (
	// PathRecordings lists recordings: GET PathRecordings?host=H&user=U&rec=R
	// (each optional), a JSON array of Recording, oldest first.
	PathRecordings = "/v1/recordings"
	// PathRecording is one recording file's bytes exactly as the host wrote
	// them: GET PathRecording?host=H&file=F&offset=N, from byte N (default
	// 0) to what is stored now, always ending at a line's end: a reader
	// following a live recording asks again from where it got to.
	PathRecording = "/v1/recording"
	// PathKeys lists the public keys trusted for a host's recordings: GET
	// PathKeys?host=H, a JSON array of Key.
	PathKeys = "/v1/keys"
	// PathSearch finds where a text was shown or typed: GET
	// PathSearch?q=TEXT&regex=1&input=1&host=H&user=U&rec=R, JSON Hits one
	// per line, each recording's in time order, as they are found.
	PathSearch = "/v1/search"
	// PathCommandLog is the command log of a host's recording
	// (rec/spec/commands.md) as the host wrote it, the lines stored so far:
	// GET PathCommandLog?host=H&rec=R; 404 when none was shipped. Readers
	// verify it against PathKeys.
	PathCommandLog = "/v1/command-log"
)

// Legal holds placed from the collector's host: POST a HoldRequest to
// PathHold or PathRelease, answered with the Hold placed or released (409
// when the recording is held already, or not held). Only root on the
// collector's host, over the local socket, may: readers read, and the
// peer's uid comes from the kernel.
const (
	PathHold    = "/v1/hold"
	PathRelease = "/v1/release"
)

// HoldRequest names the recording to hold or release, why (a hold needs a
// reason) and who asks (the login behind root, as the caller names it).
type HoldRequest struct {
	Host   string `json:"host"`
	File   string `json:"file"`
	Reason string `json:"reason,omitempty"`
	By     string `json:"by"`
}

// MaxHoldRequest bounds a HoldRequest body.
const MaxHoldRequest = 64 << 10

// Recording is a stored recording as PathRecordings lists it: what
// rec/store.Summary says of the host's file, and what the collector knows.
type Recording struct {
	Host     string     `json:"host"`
	File     string     `json:"file"` // its name on the host
	Rec      string     `json:"rec"`
	User     string     `json:"user"`
	Term     string     `json:"term"`
	Start    *time.Time `json:"start"` // null: unknown (format 2.2)
	End      *time.Time `json:"end"`
	Duration float64    `json:"duration"` // seconds
	Size     int64      `json:"size"`     // bytes stored
	// State and Detail are rec/verify's report of the bytes stored, checked
	// against the host's keys as they arrived.
	State   string    `json:"state"`
	Detail  string    `json:"detail,omitempty"`
	Updated time.Time `json:"updated"` // the last append
	// Hold is the legal hold in force on it at the collector
	// (vigil-collector holds), if any.
	Hold *store.Hold `json:"hold,omitempty"`
}

// Key is a public key trusted for a host's recordings.
type Key struct {
	ID        string `json:"key_id"`
	PublicKey []byte `json:"public_key"` // ed25519, 32 bytes
}

// Hit is one moment where a searched line was shown on screen or typed.
type Hit struct {
	Host    string  `json:"host"`
	File    string  `json:"file"`
	Rec     string  `json:"rec"`
	Seconds float64 `json:"seconds"` // into the recording
	Source  string  `json:"source"`  // "screen" or "input"
	Line    string  `json:"line"`
	// Error, when set, makes this no hit but the reason the recording
	// could not be searched to its end (a malformed line, as vigil-play
	// search reports for a file); its hits before stand, and the search
	// goes on with the other recordings.
	Error string `json:"error,omitempty"`
}
