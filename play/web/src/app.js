// The page: who may see what, the list with its filters, search hits, and
// the player with the integrity badge, the command timeline and downloads.
// Every text that comes from a recording or its command log (user, host,
// terminal, screen lines, commands, verify's report) reaches the page as
// textContent, never as markup.
import "@xterm/xterm/css/xterm.css";
import "./vigil.css";

import { clock, duration, isLive, isVerifying, jsonLines, listArgs, matches, size } from "./format.js";
import { Player } from "./player.js";
import { access, config, ctl, download, play, recordAccess } from "./vigil.js";

const PAGE = 100; // rows of the list shown at a time
// The first screen verifies files up to this size that list has not
// verified before (ordinary sessions are a few KiB): at most 100 MiB in all.
const FIRST_VERIFY_MAX = 1 << 20;
const SEARCH_FILES = 2000; // at most this many files on search's command line

const $ = id => document.getElementById(id);

const state = {
    rows: [], // list --json, newest first, after the client-side filters
    page: 0,
    partial: false, // rows are the first screen's; the whole list is loading
    listed: null, // loadList's promise
    loads: 0, // loadList's calls: a later one wins
    byKey: new Map(), // file + "\n" + rec -> row of the unfiltered list
    player: null,
    role: "none", // access()'s
    prefetch: null, // the first screen's list call, started with access()
};

function setStatus(text) {
    $("status").textContent = text;
    $("status").hidden = text === "";
}

function cell(tr, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls)
        td.className = cls;
    tr.append(td);
    return td;
}

function badge(row) {
    const span = document.createElement("span");
    const live = isLive(row);
    // Not verified yet: muted, neither good nor bad.
    span.className = isVerifying(row) ? "badge" : "badge " + (live ? "live" : row.state === "OK" ? "ok" : "bad");
    span.textContent = isVerifying(row) ? "verifying…" : live ? "live" : row.state;
    span.title = row.detail || "";
    return span;
}

function when(row) {
    return row.start ? new Date(row.start).toLocaleString() : "unknown";
}

function filters() {
    return {
        user: $("f-user").value.trim(),
        host: $("f-host").value.trim(),
        since: $("f-since").value,
        until: $("f-until").value,
        live: $("f-live").value,
        state: $("f-state").value,
        held: $("f-held").checked,
    };
}

// listCall runs list --json, newest first, for the filters f and the
// flags in more.
function listCall(f, more) {
    // A collector's list takes no directory: its names are HOST/FILE.
    return play(["list", "--json", "--reverse", ...more, ...listArgs(f), ...(config().server ? [] : [config().directory])]);
}

// firstArgs are the flags of the first screen's list call: its rows, and
// no waiting for a large file's verification.
const firstArgs = ["--limit", String(PAGE), "--verify-max-bytes", String(FIRST_VERIFY_MAX)];

// list resolves the rows of listCall(f, more), or of the call started
// already, or null when it failed (the status says why).
async function list(f, more, started) {
    const r = await (started || listCall(f, more));
    if (r.status !== 0) {
        setStatus("Cannot list the recordings: " + r.err);
        return null;
    }
    return jsonLines(r.out);
}

// loadList loads the list for the filters; state.listed is its promise.
function loadList() {
    state.listed = loadRows(++state.loads);
    return state.listed;
}

// loadRows shows the newest PAGE rows first, for which list reads and
// verifies only their files (not the large ones), then the whole list,
// for which it verifies every file its cache does not know. The page's
// own filters need every row's state, and a collector sends its list
// whole: with those, the whole list is the first.
async function loadRows(load) {
    const f = filters();
    setStatus("Loading recordings…");
    if (!f.live && !f.state && !config().server) {
        const first = await list(f, firstArgs, state.prefetch);
        state.prefetch = null;
        if (load !== state.loads || !first)
            return;
        state.rows = first;
        state.page = 0;
        state.partial = true;
        setStatus("");
        showList();
    }
    const all = await list(f, []);
    if (load !== state.loads || !all)
        return;
    state.byKey = new Map(all.map(row => [row.file + "\n" + row.rec, row]));
    state.rows = all.filter(row => matches(row, f));
    state.page = 0;
    state.partial = false;
    setStatus("");
    showList();
    // The player opened on a row not verified yet: its state now.
    const open = state.player && state.player.rec;
    const now = open && isVerifying(open) && state.byKey.get(open.file + "\n" + open.rec);
    if (now) {
        open.state = now.state;
        open.detail = now.detail;
        state.player.live = open.live = isLive(now);
        $("p-badge").replaceChildren(badge(open));
        $("p-live").hidden = !open.live;
        $("p-follow-label").hidden = !open.live;
    }
}

function showList() {
    $("list-view").hidden = false;
    $("hits-view").hidden = true;
    $("s-clear").hidden = true;
    const tbody = $("list").tBodies[0];
    const rows = state.rows.slice(state.page * PAGE, (state.page + 1) * PAGE);
    tbody.replaceChildren(...rows.map(row => {
        const tr = document.createElement("tr");
        tr.className = "clickable";
        tr.dataset.file = row.file;
        cell(tr, when(row));
        cell(tr, duration(row.duration));
        cell(tr, row.user);
        cell(tr, row.host);
        cell(tr, row.term);
        cell(tr, size(row.size), "num");
        cell(tr, "").append(badge(row));
        cell(tr, row.hold ? "held" : "", row.hold ? "held" : "").title = row.hold ? (row.hold.reason || "") : "";
        tr.addEventListener("click", () => openPlayer(row, 0));
        return tr;
    }));
    const n = state.rows.length;
    $("page-info").textContent = n === 0
        ? "No recordings match."
        : state.partial
            ? `The newest ${n} recordings; loading the others…`
            : `${state.page * PAGE + 1}–${Math.min(n, (state.page + 1) * PAGE)} of ${n} recordings`;
    $("prev").disabled = state.page === 0;
    $("next").disabled = state.partial || (state.page + 1) * PAGE >= n;
}

async function search() {
    const text = $("s-text").value;
    if (text === "")
        return;
    // search takes the files of the whole list: the latest load's.
    for (let p = null; p !== state.listed;) {
        p = state.listed;
        await p;
    }
    const f = filters();
    const args = ["search", "--json"];
    if ($("s-regex").checked)
        args.push("--regex");
    if (f.user)
        args.push("--user", f.user);
    // search reads every recording it is given: when the list shows few,
    // those only. A collector searches its own index, by host and user;
    // the page's other filters apply to the hits.
    const files = [...new Set(state.rows.map(row => row.file))];
    if (files.length === 0) {
        setStatus("No recordings to search.");
        return;
    }
    let scope, what;
    if (config().server) {
        if (f.host)
            args.push("--host", f.host);
        scope = [];
        what = (f.host || "*") + "/*";
    } else {
        scope = files.length <= SEARCH_FILES ? files : [config().directory];
        what = scope.length === 1 ? scope[0] : `${scope.length} recordings`;
    }
    args.push("--", text, ...scope);
    try {
        await recordAccess("search", what, "", text);
    } catch (ex) {
        setStatus("Not searched: " + ex.message);
        return;
    }
    setStatus("Searching…");
    const r = await play(args);
    // 1: nothing found.
    if (r.status !== 0 && r.status !== 1) {
        setStatus("Search failed: " + r.err);
        return;
    }
    const hits = jsonLines(r.out).filter(hit => {
        const row = state.byKey.get(hit.file + "\n" + hit.rec);
        return row && matches(row, f);
    });
    setStatus(hits.length === 0 ? "Not found." : `${hits.length} hits.`);
    $("list-view").hidden = true;
    $("hits-view").hidden = false;
    $("s-clear").hidden = false;
    $("hits").tBodies[0].replaceChildren(...hits.map(hit => {
        const row = state.byKey.get(hit.file + "\n" + hit.rec);
        const tr = document.createElement("tr");
        tr.className = "clickable";
        cell(tr, `${row.user}@${row.host}, ${when(row)}`);
        cell(tr, clock(hit.seconds), "num");
        cell(tr, (hit.source === "input" ? "(typed) " : "") + hit.line, "line");
        tr.addEventListener("click", () => openPlayer(row, hit.seconds));
        return tr;
    }));
}

async function openPlayer(row, t) {
    try {
        await recordAccess("view", row.file, row.rec, t ? "at " + clock(t) : "");
    } catch (ex) {
        setStatus("Not shown: " + ex.message);
        return;
    }
    setStatus("");
    $("browse").hidden = true;
    $("player-view").hidden = false;
    $("p-title").textContent = `${row.user}@${row.host} on ${row.term || "?"}, ${when(row)}`;
    const b = $("p-badge");
    b.replaceChildren(badge(row));
    b.title = "Show what verify says";
    $("p-verify").hidden = true;
    $("p-live").hidden = !isLive(row);
    $("p-follow-label").hidden = !isLive(row);
    showHold(row);
    if (!state.player)
        state.player = new Player($("terminal"), updatePlayer, msg => setStatus("Player: " + msg));
    state.player.open({ ...row, live: isLive(row) }, t);
    showCommands(state.player.rec);
}

// showCommands lists the recording's commands beside the player, from its
// command log (vigil-play commands --json, verified on the host): the
// log's verdict, where commands may be missing, and each command at its
// time, which a click seeks the player to.
async function showCommands(rec) {
    const st = $("p-cmd-state");
    const list = $("p-cmd-list");
    st.className = "cmd-state";
    st.textContent = "Reading the command log…";
    list.replaceChildren();
    const r = await play(["commands", "--json", "-m", rec.rec, "--", rec.file]);
    if (state.player.rec !== rec)
        return; // another recording was opened meanwhile
    const lines = jsonLines(r.out);
    const rep = lines.find(l => l.kind === "report");
    if (!rep) {
        // No log (not a login, or vigil-cmdlog not running), or unreadable.
        st.textContent = r.err.trim() || "No command log.";
        return;
    }
    // A live recording's log has no end yet: TRUNCATED, as in the list.
    const live = rec.live && rep.state === "TRUNCATED";
    const b = document.createElement("span");
    b.className = "badge " + (live ? "live" : rep.state === "OK" ? "ok" : "bad");
    b.textContent = live ? "live" : rep.state;
    st.className = "cmd-state" + (rep.state === "OK" || live ? "" : " bad");
    st.replaceChildren(b, ` ${rep.commands} commands` + (rep.state === "OK" || live ? "" : `: line ${rep.line}: ${rep.detail}`));
    list.replaceChildren(...lines.filter(l => l.kind !== "report").map(item => {
        const li = document.createElement("li");
        li.dataset.seconds = String(item.seconds);
        const at = document.createElement("span");
        at.className = "at";
        at.textContent = clock(item.seconds);
        li.append(at);
        if (item.kind === "lost") {
            li.className = "lost";
            li.append("Commands may be missing here: " + item.lost);
            return li;
        }
        li.className = "clickable";
        li.title = `${item.user}${item.euser ? " as " + item.euser : ""} in ${item.cwd || "?"}`;
        const who = document.createElement("span");
        who.className = "who";
        who.textContent = item.user;
        li.append(who, item.line);
        if (!item.ok || item.incomplete) {
            const m = document.createElement("span");
            m.className = "failed";
            m.textContent = [item.ok ? "" : `[${item.error}]`, item.incomplete ? "[incomplete]" : ""].join(" ").trim();
            li.append(m);
        }
        li.addEventListener("click", () => state.player.seek(item.seconds));
        return li;
    }));
}

// remoteServer tells whether the page reads a collector over https: its
// holds are placed on the collector's host, which the page cannot reach
// as root. Over the collector's local socket, root places them.
function remoteServer() {
    return config().server.startsWith("https://");
}

// showHold shows the recording's legal hold, and to admins the button
// that places or lifts it (vigilctl hold / release on this host,
// vigil-play hold / release on a collector's host, as root).
function showHold(row) {
    $("p-hold-form").hidden = state.role !== "admin";
    const h = row.hold;
    $("p-hold-state").textContent = h
        ? `Held since ${new Date(h.since).toLocaleString()} by ${h.by}${h.reason ? ": " + h.reason : ""}.`
        : "Not held.";
    $("p-hold-reason-label").hidden = !!h || remoteServer();
    $("p-hold").textContent = h ? "Release" : "Hold";
    $("p-hold").disabled = remoteServer();
    const why = $("p-hold-why");
    why.hidden = !remoteServer();
    why.textContent = `Holds at the collector are placed and lifted on its host, as root: ` +
        `vigil-play ${h ? "release" : "hold --reason TEXT"} --server SOCKET ${row.file}`;
}
async function toggleHold() {
    const row = state.player.rec;
    const held = !!row.hold;
    const reason = $("p-hold-reason").value.trim();
    if (!held && reason === "") {
        setStatus("A hold needs a reason (a case number, a request).");
        return;
    }
    const dir = config().directory;
    const r = config().server
        ? await play(held ? ["release", "--", row.file] : ["hold", "--reason", reason, "--", row.file])
        : await ctl(held
            ? ["release", "--dir", dir, "--", row.rec]
            : ["hold", "--dir", dir, "--reason", reason, "--", row.rec]);
    if (r.status !== 0) {
        setStatus((held ? "Not released: " : "Not held: ") + r.err);
        return;
    }
    $("p-hold-reason").value = "";
    // Only this recording is listed again: the view the player was opened
    // from (a search's hits, a page of the list) stays where it was.
    const key = row.file + "\n" + row.rec;
    const rows = await list({ host: row.host || "" }, ["--rec", row.rec]);
    const now = rows && rows.find(x => x.file + "\n" + x.rec === key);
    if (now) {
        for (const r of new Set([row, state.byKey.get(key)]))
            if (r)
                r.hold = now.hold;
        if ($("hits-view").hidden)
            showList(); // its held column
    } else {
        await loadList();
        row.hold = (state.byKey.get(key) || row).hold;
    }
    showHold(row);
    setStatus(r.out.trim());
}

function updatePlayer(p) {
    $("p-play").textContent = p.playing ? "Pause" : "Play";
    const seek = $("p-seek");
    seek.max = String(p.end());
    if (!seek.matches(":active"))
        seek.value = String(p.pos || 0);
    $("p-time").textContent = p.timeText();
}

async function showVerify() {
    const pre = $("p-verify");
    if (!pre.hidden) {
        pre.hidden = true;
        return;
    }
    const row = state.player.rec;
    pre.hidden = false;
    try {
        await recordAccess("verify", row.file, row.rec, "");
    } catch (ex) {
        pre.textContent = "Not verified: " + ex.message;
        return;
    }
    pre.textContent = "Verifying…";
    const r = await play(["verify", row.file]);
    // verify prints one line per recording of the file: this one's.
    const mine = r.out.split("\n").filter(l => l.includes(row.rec)).join("\n");
    pre.textContent = (mine || r.out) + (r.err ? "\n" + r.err : "");
}

function saveAs(format) {
    const row = state.player.rec;
    const ext = { asciicast: ".cast", raw: ".raw", json: ".json" }[format];
    const name = row.file.split("/").pop().replace(/\.jsonl$/, "") + ext;
    recordAccess("download", row.file, row.rec, format)
            .then(() => download(["export", "-F", format, "-m", row.rec, row.file], name, "application/octet-stream"))
            .catch(ex => setStatus("Download failed: " + ex.message));
}

function wire() {
    $("filters").addEventListener("submit", ev => { ev.preventDefault(); loadList() });
    $("search").addEventListener("submit", ev => { ev.preventDefault(); search() });
    $("s-clear").addEventListener("click", () => { setStatus(""); showList() });
    $("prev").addEventListener("click", () => { state.page--; showList() });
    $("next").addEventListener("click", () => { state.page++; showList() });
    $("back").addEventListener("click", () => {
        state.player.close();
        $("player-view").hidden = true;
        $("browse").hidden = false;
        setStatus("");
    });
    $("p-play").addEventListener("click", () => {
        const p = state.player;
        p.playing ? p.pause() : p.play();
    });
    $("p-back5").addEventListener("click", () => state.player.seek(state.player.pos - 5));
    $("p-fwd5").addEventListener("click", () => state.player.seek(state.player.pos + 5));
    $("p-seek").addEventListener("change", ev => state.player.seek(Number(ev.target.value)));
    $("p-speed").addEventListener("change", ev => state.player.setSpeed(Number(ev.target.value)));
    $("p-follow").addEventListener("change", ev => { state.player.follow = ev.target.checked });
    $("p-badge").addEventListener("click", showVerify);
    $("access-log").addEventListener("click", showAccessLog);
    $("p-hold-form").addEventListener("submit", ev => { ev.preventDefault(); toggleHold() });
    $("access-back").addEventListener("click", () => {
        $("access-view").hidden = true;
        $("browse").hidden = false;
        setStatus("");
    });
    for (const b of document.querySelectorAll(".downloads button"))
        b.addEventListener("click", () => saveAs(b.dataset.format));
}

// showAccessLog lists the access log, newest first, each line's
// verification with it (admins).
async function showAccessLog() {
    setStatus("Reading the access log…");
    const r = await ctl(["access-log", "--json"]);
    // 1: some line does not verify, which the table shows.
    if (r.status !== 0 && r.status !== 1) {
        setStatus("Cannot read the access log: " + r.err);
        return;
    }
    const reps = JSON.parse(r.out || "[]") || [];
    setStatus(reps.length === 0 ? "No access recorded yet." : "");
    $("browse").hidden = true;
    $("access-view").hidden = false;
    $("access").tBodies[0].replaceChildren(...reps.reverse().map(rep => {
        const e = rep.entry || {};
        const tr = document.createElement("tr");
        cell(tr, e.time ? new Date(e.time).toLocaleString() : `${rep.file}:${rep.line}`);
        cell(tr, e.who || "");
        cell(tr, e.action || "");
        cell(tr, (e.file || "") + (e.rec ? ` (${e.rec})` : ""));
        cell(tr, e.detail || "");
        cell(tr, (e.from || "") + (e.session ? ` session ${e.session}` : ""));
        const st = cell(tr, "");
        const span = document.createElement("span");
        span.className = "badge " + (rep.state === "OK" ? "ok" : "bad");
        span.textContent = rep.state;
        span.title = rep.detail || "";
        st.append(span);
        return tr;
    }));
}

async function main() {
    wire();
    // The first screen's rows are asked for while access() finds out who
    // may see them: they are shown only once it has said (and a user who
    // may not read the recordings gets nothing from it anyway).
    if (!config().server)
        state.prefetch = listCall(filters(), firstArgs);
    const who = await access();
    const dir = config().directory;
    if (who.role === "none") {
        setStatus("");
        $("noaccess-why").textContent =
            `Session recordings are shown to administrators and to members of the group ${who.group}. ` +
            `Turn on administrative access, or ask an administrator to add you to ${who.group}.`;
        $("noaccess").hidden = false;
        return;
    }
    state.role = who.role;
    $("access-log").hidden = who.role !== "admin";
    const from = config().server ? `, from the collector ${config().server}` : "";
    $("role").textContent = who.role === "admin"
        ? `Administrator: all recordings${from}`
        : `Auditor (${who.group}): all recordings${from}, read-only`;
    $("browse").hidden = false;
    $("browse").dataset.dir = dir;
    await loadList();
}

main();
