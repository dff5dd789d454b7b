/** @jsxImportSource hono/jsx */
import type { Child } from "hono/jsx";

/** What every signed-in page needs: the CSRF token for its forms (the sign-out button is one). */
export interface PageContext {
  csrfToken: string;
}

/** The HTML shell: a served stylesheet and script only (CSP 'self'), navigation and sign-out when signed in. */
export function Layout(props: { title: string; page?: PageContext; refresh?: boolean; children?: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>{`${props.title} · ProxyStaff console`}</title>
        <link rel="stylesheet" href="/console/assets/console.css" />
        <script src="/console/assets/console.js" defer />
      </head>
      <body data-autorefresh={props.refresh ? "30" : undefined}>
        <header class="top">
          <a class="brand" href="/console">
            ProxyStaff
          </a>
          {props.page ? (
            <nav>
              <a href="/console">Overview</a>
              <a href="/console/usage">Usage</a>
              <a href="/console/failures">Failures</a>
              <form method="post" action="/console/sign-out" class="inline">
                <CsrfField page={props.page} />
                <button type="submit" class="link">
                  Sign out
                </button>
              </form>
            </nav>
          ) : null}
        </header>
        <main>{props.children}</main>
      </body>
    </html>
  );
}

/** The hidden CSRF field every POST form carries. */
export function CsrfField(props: { page: PageContext }) {
  return <input type="hidden" name="_csrf" value={props.page.csrfToken} />;
}

/** A coloured label: ok (green), warn (amber), bad (red), muted (grey). */
export function Badge(props: { tone: "ok" | "warn" | "bad" | "muted" | "info"; children?: Child; title?: string }) {
  return (
    <span class={`badge ${props.tone}`} title={props.title}>
      {props.children}
    </span>
  );
}

/** A page that says what went wrong, never how (no stack). */
export function ErrorPage(props: { status: number; code: string; message: string; page?: PageContext }) {
  return (
    <Layout title="Error" page={props.page}>
      <section class="card error">
        <h1>{props.status === 404 ? "Not found" : "That did not work"}</h1>
        <p class="message">{props.message}</p>
        <p class="muted">
          Code <code>{props.code}</code> · HTTP {props.status}
        </p>
        <p>
          <a href="/console">Back to the overview</a>
        </p>
      </section>
    </Layout>
  );
}

/**
 * The confirmation step of a destructive action (works without JS): the same form again, with the
 * fields it carried and a checkbox that must be ticked.
 */
export function ConfirmPage(props: {
  page: PageContext;
  title: string;
  question: string;
  action: string;
  fields: Record<string, string>;
  button: string;
  cancelHref: string;
}) {
  return (
    <Layout title={props.title} page={props.page}>
      <section class="card">
        <h1>{props.title}</h1>
        <p>{props.question}</p>
        <form method="post" action={props.action}>
          <CsrfField page={props.page} />
          {Object.entries(props.fields).map(([name, value]) => (
            <input type="hidden" name={name} value={value} />
          ))}
          <label class="confirm">
            <input type="checkbox" name="confirm" value="yes" required /> Yes, I am sure
          </label>
          <p>
            <button type="submit" class="danger">
              {props.button}
            </button>{" "}
            <a href={props.cancelHref}>Cancel</a>
          </p>
        </form>
      </section>
    </Layout>
  );
}

export function SignInPage(props: { error?: string; status?: number }) {
  return (
    <Layout title="Sign in">
      <section class="card narrow">
        <h1>Operator console</h1>
        <p class="muted">Sign in with the admin key (ADMIN_API_KEY; generated into $DATA_DIR/admin-api-key).</p>
        {props.error ? (
          <p class="flash bad" role="alert">
            {props.error}
          </p>
        ) : null}
        <form method="post" action="/console/sign-in">
          <label>
            Admin key
            <input type="password" name="key" autocomplete="current-password" required autofocus />
          </label>
          <button type="submit">Sign in</button>
        </form>
      </section>
    </Layout>
  );
}
