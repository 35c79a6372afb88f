// Package conf holds Vigil's configuration schemas, their defaults, loading
// and validation. This file defines the recorder configuration
// (/etc/vigil/rec.toml), whose keys are tlog's where tlog has one.
package conf

// DefaultRecPath is the system recorder configuration file.
const DefaultRecPath = "/etc/vigil/rec.toml"

// DefaultNotice is tlog-rec-session's notice, printed to stderr before an
// interactive recorded session starts.
const DefaultNotice = "\nATTENTION! Your session is being recorded!\n\n"

// Rec is the recorder configuration. JSON names are the tlog schema's names
// (used for VIGIL_REC_CONF / TLOG_REC_SESSION_CONF_TEXT and --configuration);
// TOML names are the same.
type Rec struct {
	// Latency is the longest time in seconds data may wait in an unsent
	// message (tlog "latency", >= 1).
	Latency int `json:"latency" toml:"latency"`
	// Payload is the maximum encoded payload of one message in bytes
	// (tlog "payload", >= 32).
	Payload  int         `json:"payload" toml:"payload"`
	Log      RecLog      `json:"log" toml:"log"`
	Limit    RecLimit    `json:"limit" toml:"limit"`
	Writer   string      `json:"writer" toml:"writer"` // file | journal | syslog
	File     RecFile     `json:"file" toml:"file"`
	Syslog   RecSyslog   `json:"syslog" toml:"syslog"`
	Journal  RecJournal  `json:"journal" toml:"journal"`
	Notice   string      `json:"notice" toml:"notice"`
	Shell    string      `json:"shell" toml:"shell"`
	Sign     RecSign     `json:"sign" toml:"sign"`
	Transfer RecTransfer `json:"transfer" toml:"transfer"`

	// origins says where each key (indexed like recFields) was last set, so
	// that Validate can name the file and line of a bad value. Values that
	// came from different sources therefore differ under ==.
	origins [numRecKeys]origin
}

// RecLog selects what is recorded.
type RecLog struct {
	Input  bool `json:"input" toml:"input"`   // off by default: typed passwords
	Output bool `json:"output" toml:"output"` //
	Window bool `json:"window" toml:"window"`
}

// RecLimit is tlog's rate limit over whole message bytes.
type RecLimit struct {
	Rate   int64  `json:"rate" toml:"rate"`     // bytes per second, >= 0
	Burst  int64  `json:"burst" toml:"burst"`   // bytes, >= 0
	Action string `json:"action" toml:"action"` // pass | delay | drop
}

// RecFile configures the file writer. Path names a directory (one file per
// recording, named <UTC start>-<host>-<user>-<rec>.jsonl) or, as in tlog, a
// single file that recordings are appended to.
type RecFile struct {
	Path string `json:"path" toml:"path"`
}

// RecSyslog configures the syslog writer.
type RecSyslog struct {
	Facility string `json:"facility" toml:"facility"`
	Priority string `json:"priority" toml:"priority"`
}

// RecJournal configures the journal writer.
type RecJournal struct {
	Priority string `json:"priority" toml:"priority"`
	Augment  bool   `json:"augment" toml:"augment"` // add TLOG_* fields
}

// RecSign configures the integrity chain and its signatures (a Vigil
// extension, rec/spec/integrity.md).
type RecSign struct {
	// Key is the PEM (PKCS#8) ed25519 private key that signs checkpoints.
	Key string `json:"key" toml:"key"`
	// AnchorEvery bounds the messages from one chain anchor to the next;
	// 1 puts the chain fields on every message.
	AnchorEvery int `json:"anchor_every" toml:"anchor_every"`
}

// RecTransfer decides how non-interactive bulk transfers (scp, sftp-server,
// rsync --server, git over ssh) are recorded (a Vigil extension).
type RecTransfer struct {
	// Record is "metadata" (command, byte counts and SHA-256 of each stream)
	// or "full" (every byte, like an ordinary session).
	Record string `json:"record" toml:"record"`
}

// The rate limit's defaults differ from tlog's (16384, 32768, "pass"): a
// recorded user must not be able to fill the disk that holds the audit
// trail, nor bury a session in a flood the auditor's tools choke on, at
// the speed of cat(1). Over the limit the session is slowed down, never
// dropped from the recording: 32 MiB pass at full speed, then 1 MiB of
// messages a second, far more than anyone reads on a terminal.
const (
	DefaultLimitRate  = 1 << 20
	DefaultLimitBurst = 32 << 20
)

// DefaultRecDir is the file writer's default directory (file.path), where
// the tools look for recordings unless told otherwise.
const DefaultRecDir = "/var/log/vigil"

// DefaultRec returns the built-in defaults (tlog's, except the rate limit,
// plus Vigil's own keys).
func DefaultRec() Rec {
	return Rec{
		Latency:  10,
		Payload:  2048,
		Log:      RecLog{Input: false, Output: true, Window: true},
		Limit:    RecLimit{Rate: DefaultLimitRate, Burst: DefaultLimitBurst, Action: "delay"},
		Writer:   "file",
		File:     RecFile{Path: DefaultRecDir},
		Syslog:   RecSyslog{Facility: "authpriv", Priority: "info"},
		Journal:  RecJournal{Priority: "info", Augment: true},
		Notice:   DefaultNotice,
		Shell:    "/bin/bash",
		Sign:     RecSign{Key: "/etc/vigil/keys/signing.key", AnchorEvery: 256},
		Transfer: RecTransfer{Record: "metadata"},
	}
}
