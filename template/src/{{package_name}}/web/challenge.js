// The browser's half of the built-in bot challenge (security/proof_of_work.py), served as /auth/challenge.js.
//
// The challenge page carries the challenge in data-* attributes; this script finds the first decimal
// counter such that SHA-256("<challenge>.<counter>") starts with `difficulty` zero bits, then
// re-navigates to the login it interrupted with `challenge_token=<challenge>.<counter>`.
// Same-origin and free of inline code, so the page's CSP can stay `script-src 'self'`.
"use strict";

(function () {
  const box = document.getElementById("challenge");
  const status = document.getElementById("challenge-status");
  if (!box || !status) {
    return;
  }
  const challenge = box.dataset.challenge;
  const difficulty = Number(box.dataset.difficulty);
  const retry = box.dataset.retry;
  const encoder = new TextEncoder();
  const BATCH = 256; // digests in flight at once: the native hash is fast, each await is not

  function leadingZeroBits(bytes) {
    let bits = 0;
    for (const byte of bytes) {
      if (byte === 0) {
        bits += 8;
        continue;
      }
      return bits + Math.clz32(byte) - 24;
    }
    return bits;
  }

  async function solve() {
    for (let start = 0; ; start += BATCH) {
      const attempts = [];
      for (let counter = start; counter < start + BATCH; counter += 1) {
        attempts.push(crypto.subtle.digest("SHA-256", encoder.encode(challenge + "." + counter)));
      }
      const digests = await Promise.all(attempts);
      for (let index = 0; index < BATCH; index += 1) {
        if (leadingZeroBits(new Uint8Array(digests[index])) >= difficulty) {
          return challenge + "." + (start + index);
        }
      }
    }
  }

  if (!window.crypto || !crypto.subtle) {
    status.textContent = "This check needs a current browser over HTTPS.";
    return;
  }
  solve().then(
    function (token) {
      const separator = retry.indexOf("?") === -1 ? "?" : "&";
      window.location.replace(retry + separator + "challenge_token=" + encodeURIComponent(token));
    },
    function () {
      status.textContent = "The check could not run in this browser. Reload the page to try again.";
    },
  );
})();
