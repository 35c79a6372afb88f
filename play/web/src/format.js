// Pure helpers: parsing vigil-play's JSON lines, the filters list has no
// flag for, and formatting. No DOM, no Cockpit: node --test runs them.

// jsonLines parses output of one JSON object per line.
export function jsonLines(text) {
    const out = [];
    for (const line of text.split("\n")) {
        if (line !== "")
            out.push(JSON.parse(line));
    }
    return out;
}

// A recording without its end message is live, or its recorder was
// killed: verify calls both TRUNCATED "no end message".
export function isLive(row) {
    return row.state === "TRUNCATED" && (row.detail || "").startsWith("no end message");
}

// A row of list --verify-max-bytes whose file was too large to verify on
// the way: the whole list says its state.
export function isVerifying(row) {
    return row.state === "UNVERIFIED";
}

// matches applies the filters list cannot: live or ended, and the
// integrity state ("bad": anything but OK).
export function matches(row, f) {
    if (f.live === "live" && !isLive(row))
        return false;
    if (f.live === "ended" && isLive(row))
        return false;
    if (f.state === "bad")
        return row.state !== "OK";
    if (f.state)
        return row.state === f.state;
    return true;
}

// listArgs are list's flags for the filters it has; times are
// datetime-local values, in the browser's time zone.
export function listArgs(f) {
    const args = [];
    if (f.user)
        args.push("--user", f.user);
    if (f.host)
        args.push("--host", f.host);
    for (const [flag, v] of [["--since", f.since], ["--until", f.until]]) {
        if (v)
            args.push(flag, "@" + Math.floor(new Date(v).getTime() / 1000));
    }
    if (f.held)
        args.push("--held");
    return args;
}

// clock formats a recording time as [H:]MM:SS.mmm.
export function clock(s) {
    s = Math.max(0, s);
    const ms = Math.round(s * 1000);
    const h = Math.floor(ms / 3600000);
    const m = Math.floor(ms / 60000) % 60;
    const sec = ((ms % 60000) / 1000).toFixed(3).padStart(6, "0");
    return (h > 0 ? h + ":" : "") + String(m).padStart(2, "0") + ":" + sec;
}

// duration formats seconds for the list.
export function duration(s) {
    if (s < 60)
        return s.toFixed(1) + " s";
    const m = Math.floor(s / 60);
    if (m < 60)
        return m + " min " + Math.floor(s % 60) + " s";
    return Math.floor(m / 60) + " h " + (m % 60) + " min";
}

export function size(n) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) {
        n /= 1024;
        i++;
    }
    return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
}

// fitSize is play/screen.FitSize: a dimension of 0 keeps the previous
// one (80x24 at first), and at most 512x256.
export function fitSize(cols, rows, prevCols, prevRows) {
    if (cols <= 0)
        cols = prevCols;
    if (rows <= 0)
        rows = prevRows;
    return [Math.min(cols > 0 ? cols : 80, 512), Math.min(rows > 0 ? rows : 24, 256)];
}

// eventData is a JSON export event's bytes as xterm.js takes them: a
// string, or a Uint8Array for data_base64 (not valid UTF-8).
export function eventData(ev) {
    if (ev.data !== undefined)
        return ev.data;
    if (ev.data_base64 !== undefined)
        return Uint8Array.from(atob(ev.data_base64), c => c.charCodeAt(0));
    return "";
}
