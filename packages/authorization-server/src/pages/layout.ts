/**
 * The frame of every page: the brand (SPEC §2: shown on every page) and the stylesheet; on a signed-in
 * page also who is signed in, a link to their sessions and a "Sign out" form (issue 10 §4).
 * Anti-framing and CSP headers are set for all pages in authorization-server.ts (SPEC decision 18).
 */
import { html, type SafeHtml } from './html.ts';

/**
 * What a signed-in page passes to `layout` so its header carries the "Sign out" form (a POST to
 * /logout with the page's CSRF token, endpoints/logout.ts). Every page shown to a signed-in user passes
 * it, e.g. `layout(brandName, title, body, { userName: user.name, csrfToken: reply.generateCsrf() })`.
 */
export interface SignedInHeader {
  userName: string;
  /** The page's CSRF token (`reply.generateCsrf()`), the same one its other forms carry. */
  csrfToken: string;
}

function signedInHeader(signedIn: SignedInHeader): SafeHtml {
  return html`<span class="signed-in"><span class="user">${signedIn.userName}</span> · <a href="/account/sessions">Sessions</a>
<form class="sign-out" method="post" action="/logout"><input type="hidden" name="_csrf" value="${signedIn.csrfToken}"><button type="submit">Sign out</button></form></span>`;
}

/** @param signedIn given on every page shown to a signed-in user: adds the "Sign out" form to the header. */
export function layout(brandName: string, title: string, body: SafeHtml, signedIn?: SignedInHeader): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · ${brandName}</title>
<link rel="stylesheet" href="/assets/gatehouse.css">
</head>
<body>
<header><span class="brand">${brandName}</span>${signedIn ? signedInHeader(signedIn) : ''}</header>
<main>
${body}
</main>
</body>
</html>
`.value;
}

export const STYLESHEET = `
:root { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d1d1f; background: #f4f4f6; }
body { margin: 0; }
header { background: #1d1d1f; color: #fff; padding: 14px 24px; }
.brand { font-weight: 700; letter-spacing: .02em; }
main { max-width: 440px; margin: 40px auto; background: #fff; border-radius: 12px; padding: 28px 32px; box-shadow: 0 1px 4px rgba(0,0,0,.08); }
h1 { font-size: 1.35rem; margin: 0 0 16px; }
label { display: block; font-weight: 600; margin: 14px 0 6px; }
input[type=email], input[type=password], select { width: 100%; box-sizing: border-box; padding: 10px; border: 1px solid #c7c7cc; border-radius: 8px; font-size: 1rem; }
button { padding: 10px 18px; border-radius: 8px; border: 1px solid #1d1d1f; font-size: 1rem; cursor: pointer; }
button.primary { background: #1d1d1f; color: #fff; }
a.button { display: inline-block; padding: 10px 18px; border-radius: 8px; border: 1px solid #1d1d1f; color: #1d1d1f; text-decoration: none; }
a.button.primary { background: #1d1d1f; color: #fff; }
.actions { display: flex; gap: 12px; justify-content: flex-end; margin-top: 22px; }
.error { background: #fdecea; color: #8a1c12; padding: 10px 12px; border-radius: 8px; }
.client { display: flex; gap: 14px; align-items: center; margin-bottom: 12px; }
.client img { width: 56px; height: 56px; border-radius: 10px; object-fit: cover; }
.muted { color: #6e6e73; font-size: .92rem; }
.unverified { background: #fff4e5; color: #7a4300; padding: 10px 12px; border-radius: 8px; border: 1px solid #f0c36d; }
ul.scopes { padding-left: 20px; }
ul.scopes li { margin: 6px 0; }
code { font-size: .85em; }
textarea, input[type=url], input[type=text] { width: 100%; box-sizing: border-box; padding: 10px; border: 1px solid #c7c7cc; border-radius: 8px; font-size: 1rem; font-family: inherit; }
fieldset { border: 1px solid #c7c7cc; border-radius: 8px; margin: 14px 0 0; }
label.check { font-weight: 400; margin: 6px 0; }
nav { margin-bottom: 12px; }
.secret { background: #eef6ee; border: 1px solid #8fc18f; padding: 10px 12px; border-radius: 8px; word-break: break-all; }
.notice { background: #eef3fb; padding: 10px 12px; border-radius: 8px; }
img.logo { width: 96px; height: 96px; border-radius: 10px; }
header { display: flex; justify-content: space-between; align-items: center; gap: 12px; }
header a { color: #fff; }
.signed-in { display: flex; align-items: center; gap: 8px; font-size: .92rem; }
form.sign-out { display: inline; margin: 0; }
form.sign-out button { padding: 4px 10px; font-size: .9rem; background: transparent; color: #fff; border-color: #fff; }
form.inline { display: inline; }
table.sessions { width: 100%; border-collapse: collapse; }
table.sessions td, table.sessions th { text-align: left; padding: 6px 4px; border-bottom: 1px solid #e5e5ea; vertical-align: top; }
a.button { display: inline-block; padding: 10px 18px; border-radius: 8px; background: #1d1d1f; color: #fff; text-decoration: none; }
`;
