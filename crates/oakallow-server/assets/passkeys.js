// oakallow passkeys: runs the WebAuthn ceremony of a form marked `data-passkey` ("create" on the
// account page, "get" on the sign-in page), then submits that form with the browser's answer.
//
// 1. POSTs the form's `_csrf` to the form's `data-options` URL; the answer is WebAuthn JSON
//    options (binary values in base64url), or `{"error": "…"}`.
// 2. Calls navigator.credentials.create / get with the binary values decoded.
// 3. Puts the answer, binary values in base64url, as JSON in the form's `credential` field and
//    submits the form; the server's page (signed in, or the reason it refused) follows.
// Without this script the forms still submit, and the server says that passkeys need it.
"use strict";

(() => {
  const fromBase64url = (text) => {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(base64 + "===".slice((base64.length + 3) % 4));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer;
  };

  const toBase64url = (buffer) => {
    let binary = "";
    for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };

  const withIds = (list) => (list || []).map((c) => ({ ...c, id: fromBase64url(c.id) }));

  function creationOptions({ publicKey }) {
    return {
      publicKey: {
        ...publicKey,
        challenge: fromBase64url(publicKey.challenge),
        user: { ...publicKey.user, id: fromBase64url(publicKey.user.id) },
        excludeCredentials: withIds(publicKey.excludeCredentials),
      },
    };
  }

  function requestOptions({ publicKey }) {
    return {
      publicKey: { ...publicKey, challenge: fromBase64url(publicKey.challenge), allowCredentials: withIds(publicKey.allowCredentials) },
    };
  }

  // Client extension results are not signed, and the server does not use them.
  function created(credential) {
    const response = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      extensions: {},
      response: { attestationObject: toBase64url(response.attestationObject), clientDataJSON: toBase64url(response.clientDataJSON) },
    };
  }

  function asserted(credential) {
    const response = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      extensions: {},
      response: {
        authenticatorData: toBase64url(response.authenticatorData),
        clientDataJSON: toBase64url(response.clientDataJSON),
        signature: toBase64url(response.signature),
        userHandle: response.userHandle ? toBase64url(response.userHandle) : null,
      },
    };
  }

  async function ceremony(form, say) {
    if (!window.PublicKeyCredential || !navigator.credentials) {
      say("This browser does not support passkeys.");
      return;
    }
    const body = new URLSearchParams({ _csrf: form.elements._csrf.value });
    const reply = await fetch(form.dataset.options, { method: "POST", body, credentials: "same-origin" });
    const options = await reply.json().catch(() => ({}));
    if (!reply.ok) {
      say(options.error || `The server refused (${reply.status}). Reload the page and try again.`);
      return;
    }
    const create = form.dataset.passkey === "create";
    let credential;
    try {
      credential = create ? await navigator.credentials.create(creationOptions(options)) : await navigator.credentials.get(requestOptions(options));
    } catch (error) {
      say(error.name === "NotAllowedError" ? "The passkey request was cancelled or timed out." : `The passkey request failed: ${error.message}`);
      return;
    }
    form.elements.credential.value = JSON.stringify(create ? created(credential) : asserted(credential));
    form.submit();
  }

  for (const form of document.querySelectorAll("form[data-passkey]")) {
    const status = form.querySelector("[data-passkey-status]");
    const say = (text) => {
      if (status) status.textContent = text;
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      say("");
      ceremony(form, say).catch((error) => say(`The passkey request failed: ${error.message}`));
    });
  }
})();
