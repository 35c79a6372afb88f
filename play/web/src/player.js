// The terminal player: xterm.js fed from `vigil-play export -F json
// --filtered --from T --to T+CHUNK`, a span at a time, so that opening or
// seeking in a large recording reads only the keyframe before T and what
// follows (play/export.WriteJSONSpan).
import { Terminal } from "@xterm/xterm";

import { clock, eventData, fitSize, jsonLines } from "./format.js";
import { play } from "./vigil.js";

// A span is at most CHUNK seconds of recording and about MAX_BYTES of
// output (a flood comes in pieces); the next one is fetched when playback
// is half way through the current one's time.
const CHUNK = 30;
const MAX_BYTES = 512 << 10;
const TICK_MS = 25;
const POLL_MS = 1000; // following a live recording

export class Player {
    // el holds the terminal; onUpdate(player) is told of every change of
    // position or state, onError(message) of failures.
    constructor(el, onUpdate, onError) {
        this.el = el;
        this.onUpdate = onUpdate;
        this.onError = onError;
        this.term = new Terminal({
            disableStdin: true,
            cursorBlink: false,
            scrollback: 1000,
            fontSize: 13,
            cols: 80,
            rows: 24,
        });
        // The export is filtered already (no OSC 52, no hyperlinks, no
        // queries); should anything pass, xterm.js keeps it to itself:
        // the clipboard and links are swallowed here, and nothing listens
        // to onData or onBinary, so its answers to queries go nowhere.
        for (const osc of [8, 52])
            this.term.parser.registerOscHandler(osc, () => true);
        this.term.open(el);
        this.rec = null;
        this.gen = 0; // bumped by each seek: late answers are dropped
        this.speed = 1;
        this.playing = false;
        this.follow = true;
        this.timer = null;
        this.pollAt = 0;
    }

    // open shows recording row (a line of list --json) at time t.
    open(row, t) {
        this.rec = row;
        this.duration = row.duration;
        this.live = row.live;
        this.startWall = row.start ? Date.parse(row.start) : 0;
        return this.seek(t);
    }

    close() {
        this.pause();
        this.rec = null;
        this.gen++;
    }

    // span fetches the events after from, up to to (undefined: the end).
    async span(from, to) {
        const args = ["export", "-F", "json", "--filtered", "-m", this.rec.rec, "--max-bytes", String(MAX_BYTES),
            "--from", from.toFixed(3)];
        if (to !== undefined)
            args.push("--to", to.toFixed(3));
        args.push(this.rec.file);
        const r = await play(args);
        if (r.status !== 0)
            throw new Error(r.err || "vigil-play export failed");
        return jsonLines(r.out);
    }

    // seek shows the screen as it was at t, then plays on from there if
    // playing.
    async seek(t) {
        const gen = ++this.gen;
        t = Math.max(0, Math.min(t, this.end()));
        this.setState("loading");
        const to = this.spanEnd(t);
        let evs;
        try {
            evs = await this.span(t, to);
        } catch (ex) {
            if (gen === this.gen)
                this.onError(ex.message);
            return;
        }
        if (gen !== this.gen)
            return;
        const screen = evs.shift();
        this.events = [];
        this.next = 0;
        this.loaded(t, to, evs);
        this.fetching = false;
        this.pos = t;
        this.anchor();
        // reset and resize act at once: after what is queued is written.
        await new Promise(resolve => this.term.write("", resolve));
        this.term.reset();
        this.resize(screen.cols, screen.rows, 0, 0);
        await new Promise(resolve => this.term.write(eventData(screen), resolve));
        if (gen === this.gen)
            this.setState("ready");
    }

    // resize sizes the terminal as play/screen does a recorded window.
    resize(cols, rows, prevCols, prevRows) {
        [this.cols, this.rows] = fitSize(cols, rows, prevCols, prevRows);
        this.term.resize(this.cols, this.rows);
        this.el.dataset.size = this.cols + "x" + this.rows;
    }

    // end is the last time there is to play: the recording's duration,
    // or for a live one the time since it started.
    end() {
        if (this.live && this.startWall)
            return Math.max(this.duration, (Date.now() - this.startWall) / 1000);
        return this.duration;
    }

    setState(s) {
        this.el.dataset.state = s;
        this.onUpdate(this);
    }

    anchor() {
        this.wall = performance.now();
        this.base = this.pos;
    }

    setSpeed(s) {
        this.anchor();
        this.speed = s;
    }

    play() {
        if (this.playing || !this.rec)
            return;
        if (this.pos >= this.end() && !this.live)
            return this.seek(0).then(() => this.play());
        this.playing = true;
        this.anchor();
        this.timer = setInterval(() => this.tick(), TICK_MS);
        this.onUpdate(this);
    }

    pause() {
        this.playing = false;
        clearInterval(this.timer);
        this.timer = null;
        this.onUpdate(this);
    }

    tick() {
        if (this.el.dataset.state !== "ready")
            return; // a seek is on its way
        let pos = this.base + (performance.now() - this.wall) / 1000 * this.speed;
        const end = this.end();
        const behind = this.cut || (!this.live && this.loadedTo < end); // there is more to fetch
        if (behind)
            pos = Math.min(pos, this.loadedTo); // wait for the next span
        pos = Math.min(pos, end);
        // At the end only once everything is loaded: export may cut a span
        // exactly at the last events' time, which the next span then holds.
        // There, whatever is left is written: an event a rounding past the
        // duration (a summary cached by an older vigil-play) is still shown.
        const atEnd = pos >= end && !this.live && !behind;
        this.writeUpTo(atEnd ? Infinity : pos);
        this.pos = pos;
        if (atEnd) {
            this.pause();
            return;
        }
        if (!this.fetching && (behind
            ? pos > this.loadedTo - CHUNK / 2
            : this.live && this.follow && pos >= this.loadedTo && performance.now() >= this.pollAt))
            this.more();
        this.onUpdate(this);
    }

    // writeUpTo writes the events up to time t.
    writeUpTo(t) {
        const evs = this.events;
        while (this.next < evs.length && evs[this.next].time <= t) {
            const ev = evs[this.next++];
            if (ev.kind === "out") {
                this.term.write(eventData(ev));
            } else if (ev.kind === "window") {
                // In turn with the output: xterm.js writes asynchronously.
                this.term.write("", () => this.resize(ev.cols, ev.rows, this.cols, this.rows));
            }
        }
    }

    // more fetches the next span: CHUNK seconds, or for a live recording
    // everything written since.
    async more() {
        const gen = this.gen;
        const from = this.loadedTo;
        const to = this.spanEnd(from);
        this.fetching = true;
        let evs;
        try {
            evs = await this.span(from, to);
        } catch (ex) {
            if (gen === this.gen) {
                this.fetching = false;
                this.onError(ex.message);
            }
            return;
        }
        if (gen !== this.gen)
            return;
        evs.shift(); // the screen at from: shown already
        this.loaded(from, to, evs);
        this.fetching = false;
    }

    // spanEnd is where the span from from ends: CHUNK seconds later, or
    // for a live recording wherever it is now (undefined).
    spanEnd(from) {
        return this.live ? undefined : from + CHUNK;
    }

    // loaded queues the events of the span from from to to, or to where
    // export cut it.
    loaded(from, to, evs) {
        const cut = evs.length > 0 && evs[evs.length - 1].kind === "cut" ? evs.pop() : null;
        this.events = this.events.slice(this.next).concat(evs);
        this.next = 0;
        this.cut = cut !== null;
        if (cut) {
            this.loadedTo = cut.time;
            return;
        }
        if (to !== undefined) {
            this.loadedTo = to;
            return;
        }
        const last = evs.length ? evs[evs.length - 1].time : from;
        this.loadedTo = Math.max(from, last);
        this.duration = Math.max(this.duration, this.loadedTo);
        this.pollAt = performance.now() + POLL_MS;
    }

    timeText() {
        return clock(this.pos || 0) + " / " + clock(this.end());
    }
}
