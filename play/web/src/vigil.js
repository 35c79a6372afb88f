// The host side, through Cockpit's bridge: vigil-play runs as root when the
// session has administrative access (superuser "try"), else as the logged-in
// user, whom file permissions let read the recordings or not (README.md).
// With "server" set, vigil-play reads a collector's recordings instead
// (--server, names HOST/FILE), which its socket's group lets read or not.
/* global cockpit */

const defaults = {
    vigil_play: "vigil-play",
    vigilctl: "vigilctl",
    directory: "/var/log/vigil",
    server: "", // a collector's local socket or https URL; "": the files in directory
    auditors_group: "vigil-auditors",
};

// config is the manifest's "config", which an admin overrides in
// /etc/cockpit/vigil.override.json.
export function config() {
    const m = (cockpit.manifests && cockpit.manifests.vigil) || {};
    return { ...defaults, ...(m.config || {}) };
}

// spawn runs argv and resolves {out, err, status} whatever the exit
// status: verify and search use theirs to say what they found. The output
// comes as bytes and is decoded by the browser: cockpit.js decodes text
// channels in JavaScript, which takes longer than listing 10,000
// recordings does.
function spawn(argv, opts) {
    const text = out => new TextDecoder().decode(out || new Uint8Array());
    return new Promise(resolve => {
        cockpit.spawn(argv, { superuser: "try", err: "message", binary: true, ...opts })
                .then((out, err) => resolve({ out: text(out), err: err || "", status: 0 }),
                      (ex, out) => resolve({
                          out: text(out),
                          err: ex.message || String(ex),
                          status: ex.exit_status ?? -1,
                      }));
    });
}

// playArgv is vigil-play's command line for args, the subcommand first:
// with a collector configured, each command reads from it.
function playArgv(args) {
    const c = config();
    return c.server ? [c.vigil_play, args[0], "--server", c.server, ...args.slice(1)] : [c.vigil_play, ...args];
}

// play runs vigil-play with args.
export function play(args, opts = {}) {
    return spawn(playArgv(args), opts);
}

// access tells who the session is: "admin" (root through the superuser
// bridge), "auditor" (in the auditors' group) or "none".
export async function access() {
    const group = config().auditors_group;
    const id = await spawn(["id", "-u"], {});
    if (id.status === 0 && id.out.trim() === "0")
        return { role: "admin", group };
    const groups = await spawn(["id", "-Gn"], { superuser: false });
    if (groups.status === 0 && groups.out.trim().split(/\s+/).includes(group))
        return { role: "auditor", group };
    return { role: "none", group };
}

// download runs vigil-play with args and saves its output as name.
export function download(args, name, type) {
    return new Promise((resolve, reject) => {
        const parts = [];
        cockpit.spawn(playArgv(args), { superuser: "try", err: "message", binary: true })
                .stream(chunk => { parts.push(chunk) })
                .then(() => {
                    const url = URL.createObjectURL(new Blob(parts, { type }));
                    const a = document.createElement("a");
                    a.href = url;
                    a.download = name;
                    document.body.append(a);
                    a.click();
                    a.remove();
                    setTimeout(() => URL.revokeObjectURL(url), 60000);
                    resolve();
                }, ex => reject(new Error(ex.message || String(ex))));
    });
}

// recordAccess records a view, search, verification or download in the
// host's access log (vigil-policyd's RecordAccess: signed, chained, synced)
// and resolves when it is on disk; the page shows nothing it could not
// record. "from" is the Cockpit address the viewer used; the log also keeps
// the caller's audit session, which names the login and where it came from.
export function recordAccess(action, file, rec, detail) {
    const bus = cockpit.dbus("io.vigil.Policy1", { bus: "system", superuser: "try" });
    return bus.call("/io/vigil/Policy1", "io.vigil.Policy1", "RecordAccess",
                    [action, file, rec || "", detail || "", window.location.origin])
            .then(reply => reply[0], ex => {
                throw new Error("the access could not be recorded (" + (ex.message || String(ex)) + ")");
            })
            .finally(() => bus.close());
}

// ctl runs vigilctl with args (admins: as root).
export function ctl(args) {
    return spawn([config().vigilctl, ...args], {});
}
