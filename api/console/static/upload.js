// The release page's "Add a file": hash the chosen file (SHA-256 and
// SHA-512), sign its statement with the chosen release key (read here,
// never sent), add the artifact (the server answers presigned URLs), PUT
// the bytes to them, then finalize. Without this script the form posts the
// hashes and signature typed by hand and the answer page says how to send
// the bytes.
"use strict";
(function () {
  const form = document.getElementById("artifact-form");
  if (!form || !window.crypto || !crypto.subtle || !window.fetch) return;
  const $ = (id) => document.getElementById(id);
  const button = $("add-artifact"), errorBox = $("upload-error"), statusBox = $("upload-status");
  form.querySelector(".script-only").hidden = false;
  const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
  const b64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)));
  // The words come from the catalog, in the page's language, as the
  // button's data-say-* attributes with {placeholders}.
  const words = (key, vals = {}) => (button.dataset["say" + key] || key).replace(/\{(\w+)\}/g, (m, n) => (n in vals ? vals[n] : m));
  const say = (text) => { statusBox.textContent = text; statusBox.hidden = false; };
  const fail = (text) => { errorBox.textContent = text; errorBox.hidden = false; statusBox.hidden = true; button.disabled = false; };

  // A release.key is the base64 of the 32-byte Ed25519 seed: wrapped as
  // PKCS #8 for WebCrypto.
  async function signer(file) {
    const seed = Uint8Array.from(atob((await file.text()).trim()), (c) => c.charCodeAt(0));
    if (seed.length !== 32) throw new Error(words("Badkey"));
    const pkcs8 = new Uint8Array(48);
    pkcs8.set([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
    pkcs8.set(seed, 16);
    return crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, false, ["sign"]);
  }

  async function post(url, fields) {
    const body = new URLSearchParams(fields);
    body.set("csrf", form.elements.csrf.value);
    const resp = await fetch(url, { method: "POST", body, headers: { Accept: "application/json" }, credentials: "same-origin" });
    const answer = await resp.json().catch(() => ({ error: words("Answered", { status: resp.status }) }));
    if (!resp.ok) throw new Error(answer.error || words("Answered", { status: resp.status }));
    return answer;
  }

  async function put(url, blob) {
    const resp = await fetch(url, { method: "PUT", body: blob });
    if (!resp.ok) throw new Error(words("Refused", { status: resp.status }));
    return (resp.headers.get("ETag") || "").replaceAll('"', "");
  }

  form.addEventListener("submit", async (ev) => {
    const file = $("file").files[0];
    if (!file) return; // no file chosen: the form posts what was typed by hand
    ev.preventDefault();
    errorBox.hidden = true;
    button.disabled = true;
    try {
      say(words("Hashing", { file: file.name }));
      const bytes = await file.arrayBuffer();
      const [s256, s512] = await Promise.all([crypto.subtle.digest("SHA-256", bytes), crypto.subtle.digest("SHA-512", bytes)]);
      const f = {
        platform: form.elements.platform.value.trim(), arch: form.elements.arch.value.trim(), filename: file.name,
        size: String(file.size), sha256: hex(s256), sha512: hex(s512), signature: form.elements.signature.value.trim(),
      };
      const key = $("keyfile").files[0];
      if (key) {
        const statement = ["narcidi-release-artifact-v1", button.dataset.product, button.dataset.version, f.platform, f.arch,
          f.filename, f.size, f.sha256, f.sha512].join("\n");
        f.signature = b64(await crypto.subtle.sign("Ed25519", await signer(key), new TextEncoder().encode(statement)));
      }
      say(words("Adding"));
      const up = await post(form.action, f);
      let parts = "";
      if (up.url) {
        say(words("Uploading", { bytes: file.size }));
        await put(up.url, file.slice(0, file.size)); // a Blob without a type: no Content-Type header
      } else {
        for (const p of up.parts) {
          say(words("Part", { part: p.number, parts: up.parts.length }));
          const etag = await put(p.url, file.slice((p.number - 1) * up.part_size, p.number * up.part_size));
          parts += p.number + " " + etag + "\n";
        }
      }
      say(words("Checking"));
      await post(up.finalize, { parts });
      location.assign(location.pathname + "?done=uploaded+" + encodeURIComponent(file.name));
    } catch (e) {
      fail(e.message || String(e));
    }
  });
})();
