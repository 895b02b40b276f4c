// ferrostack dashboard: the only script. Pages work as plain HTML; this
// adds confirmation before destructive posts, dialogs, the instance and
// volume status polls, image upload with progress, the fields of a chosen
// source, and the project switcher's auto-submit.
"use strict";
(function () {
  const csrf = () => {
    const m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.content : "";
  };

  // Forms with data-confirm ask first.
  document.addEventListener("submit", (ev) => {
    const form = ev.target;
    const question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) ev.preventDefault();
  });

  // Buttons that open and close <dialog>s.
  document.addEventListener("click", (ev) => {
    const open = ev.target.closest("[data-open]");
    if (open) {
      const d = document.getElementById(open.getAttribute("data-open"));
      if (d && !d.open) d.showModal();
      const first = d && d.querySelector("input, select");
      if (first) first.focus();
    }
    const close = ev.target.closest("[data-close]");
    if (close) {
      const d = document.getElementById(close.getAttribute("data-close"));
      if (d) d.close();
    }
  });

  // A choice (the launch dialog's boot source, a volume's source) shows the
  // fields meant for it only: [data-when] lists the values it is shown for.
  document.querySelectorAll("select[data-choice]").forEach((s) => {
    const show = () => s.form.querySelectorAll("[data-when]").forEach((d) => {
      d.hidden = !d.getAttribute("data-when").split(" ").includes(s.value);
    });
    s.addEventListener("change", show);
    show();
  });

  // The project switcher submits on change (its button stays for keyboards).
  document.querySelectorAll("select[data-autosubmit]").forEach((s) => {
    s.addEventListener("change", () => s.form.submit());
  });

  // Key pair creation downloads a file and stays on the page: reload after.
  document.querySelectorAll("form[data-download]").forEach((f) => {
    f.addEventListener("submit", () => setTimeout(() => location.reload(), 1500));
  });

  // Instance status: poll a small JSON endpoint every 2 s. The server
  // renders the action buttons for the new state; they replace the old
  // ones only when the status text changed (so typing is not disturbed).
  const poll = (url, apply) => {
    const tick = async () => {
      if (document.hidden) return;
      let data;
      try {
        const r = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
        if (r.redirected || r.status === 401) { location.href = "/login"; return; }
        if (r.status === 404) { apply(null); return; }
        if (!r.ok) return;
        data = await r.json();
      } catch (e) { return; }
      apply(data);
    };
    setInterval(tick, 2000);
  };
  const update = (scope, s, actions) => {
    // Addresses come once the instance has its ports (they change alone).
    const addrs = scope.querySelector(".addresses");
    if (addrs && typeof s.addresses === "string" && addrs.textContent !== s.addresses) addrs.textContent = s.addresses;
    const cell = scope.querySelector(".status");
    if (!cell || cell.textContent === s.text) return;
    cell.textContent = s.text;
    cell.setAttribute("data-status", s.status);
    if (actions) actions.innerHTML = s.actions;
  };

  // The list: one row per server; a row whose server is gone goes.
  const table = document.querySelector("table[data-poll]");
  if (table) {
    poll(table.getAttribute("data-poll"), (data) => {
      if (!data) return;
      const seen = new Map(data.servers.map((s) => [s.id, s]));
      table.querySelectorAll("tr[data-server-id]").forEach((row) => {
        const s = seen.get(row.getAttribute("data-server-id"));
        if (!s) { row.remove(); return; }
        update(row, s, row.querySelector(".row-actions"));
      });
    });
  }

  // The detail page: status, flavor and actions; gone means back to the list.
  const one = document.querySelector("[data-poll-server]");
  if (one) {
    poll(one.getAttribute("data-poll-server"), (s) => {
      if (!s) { location.href = "/instances"; return; }
      const flavor = one.querySelector(".flavor");
      if (flavor && s.flavor && flavor.textContent !== s.flavor) flavor.textContent = s.flavor;
      update(one, s, one.querySelector("#instance-actions"));
    });
  }

  // Other lists (volumes, snapshots, backups): `{"rows": [{"id", "status",
  // "text", "state", "fields", "actions"}]}`. Cells marked data-field get
  // their text; a row's actions are swapped when its `state` changed, so
  // a form being typed in is left alone otherwise.
  document.querySelectorAll("table[data-poll-rows]").forEach((rows) => {
    poll(rows.getAttribute("data-poll-rows"), (data) => {
      if (!data) return;
      const seen = new Map(data.rows.map((r) => [r.id, r]));
      rows.querySelectorAll("tr[data-row-id]").forEach((row) => {
        const r = seen.get(row.getAttribute("data-row-id"));
        if (!r) { row.remove(); return; }
        for (const [field, text] of Object.entries(r.fields || {})) {
          const cell = row.querySelector(`[data-field="${field}"]`);
          if (cell && cell.textContent !== text) cell.textContent = text;
        }
        const cell = row.querySelector(".status");
        if (cell && cell.textContent !== r.text) {
          cell.textContent = r.text;
          cell.setAttribute("data-status", r.status);
        }
        const actions = row.querySelector(".row-actions");
        if (actions && row.getAttribute("data-state") !== r.state) {
          row.setAttribute("data-state", r.state);
          actions.innerHTML = r.actions;
        }
      });
    });
  });

  // Image upload: create the record, then PUT the file with progress.
  const upload = document.querySelector("form[data-upload]");
  if (upload) {
    const bar = upload.querySelector("progress");
    const status = upload.querySelector("[role=status]");
    const say = (t) => { status.textContent = t; };
    upload.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const file = upload.querySelector('input[type="file"]').files[0];
      if (!file) { say("Choose a file first."); return; }
      const fields = new URLSearchParams();
      for (const [k, v] of new FormData(upload)) if (typeof v === "string") fields.append(k, v);
      say("Creating the image…");
      const r = await fetch(upload.action, { method: "POST", body: fields,
        headers: { Accept: "application/json", "X-CSRF-Token": csrf() }, credentials: "same-origin" });
      const created = await r.json().catch(() => ({}));
      if (!r.ok) { say(created.error || "The image could not be created."); return; }
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", "/images/" + encodeURIComponent(created.id) + "/file");
      xhr.setRequestHeader("X-CSRF-Token", csrf());
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) {
          const pct = Math.round((e.loaded * 100) / e.total);
          bar.value = pct;
          bar.textContent = pct + "%";
          say("Uploading: " + pct + "%");
        }
      };
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) { bar.value = 100; say("Uploaded."); location.reload(); }
        else {
          let msg = "The upload failed.";
          try { msg = JSON.parse(xhr.responseText).error || msg; } catch (e) { /* keep */ }
          say(msg);
        }
      };
      xhr.onerror = () => say("The upload failed: the connection was lost.");
      xhr.send(file);
    });
  }
})();
