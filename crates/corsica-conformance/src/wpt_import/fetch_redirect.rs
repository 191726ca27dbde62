//! `fetch/api/redirect/`: the redirect tests where CORS decides (cross-origin hops, the
//! `Origin` after a redirect, redirect and request modes).

use super::fetch_cors::{arg, redirect_calls, simple};
use super::js::{self, Js};
use super::servers;
use super::{Case, File, Request, Translator};
use crate::wpt::Expect;

/// The translated files of `fetch/api/redirect/`.
pub(crate) fn translators() -> Vec<Translator> {
    vec![
        Translator {
            path: "fetch/api/redirect/redirect-mode.any.js",
            tests: 60,
            translate: redirect_mode,
        },
        Translator {
            path: "fetch/api/redirect/redirect-origin.any.js",
            tests: 40,
            translate: redirect_origin,
        },
        Translator {
            path: "fetch/api/redirect/redirect-to-dataurl.any.js",
            tests: 5,
            translate: redirect_to_dataurl,
        },
        Translator {
            path: "fetch/api/redirect/redirect-back-to-original-origin.any.js",
            tests: 2,
            translate: redirect_back_to_original_origin,
        },
    ]
}

fn mode_of(s: &str) -> Result<&'static str, String> {
    match s {
        "cors" => Ok("cors"),
        "no-cors" => Ok("no-cors"),
        "same-origin" => Ok("same-origin"),
        other => Err(format!("mode `{other}`")),
    }
}

/// `testRedirect(origin, status, redirectMode, corsMode)` over the four nested loops:
/// `redirect.py` (same or cross origin) to `cors-top.txt` on its own host.
fn redirect_mode(file: &File) -> Result<Vec<Case>, String> {
    let tables = js::loop_arrays(&file.script)?;
    let [origins, codes, redirects, modes] = tables.as_slice() else {
        return Err(format!("{} loop tables, 4 expected", tables.len()));
    };
    let location = file.eval(
        &js::binding(&file.script, "redirectLocation")?.ok_or("no redirectLocation")?,
        &[],
    )?;
    let mut out = Vec::new();
    for origin in origins {
        let origin = file.eval(origin, &[])?;
        let host = if origin == "cross-origin" {
            "{api}"
        } else {
            "{app}"
        };
        for code in codes {
            let code = file.eval(code, &[])?;
            for redirect in redirects {
                let redirect = file.eval(redirect, &[])?;
                for mode in modes {
                    let mode = file.eval(mode, &[])?;
                    let test =
                        format!("{origin} redirect {code} in {redirect} redirect and {mode} mode");
                    let url = format!(
                        "{host}/../resources/redirect.py?redirect_status={code}&location={}",
                        servers::encode_uri_component(&location)
                    );
                    let r = match redirect.as_str() {
                        "error" => "error",
                        "manual" => "manual",
                        "follow" => "follow",
                        other => return Err(format!("redirect mode `{other}`")),
                    };
                    let request = Request::get().redirect(r).mode(mode_of(&mode)?);
                    let (expect, dropped): (Expect, &[&str]) = if redirect == "error"
                        || (mode == "no-cors" && redirect != "follow" && origin != "same-origin")
                    {
                        (Expect::default(), &[])
                    } else if redirect == "manual" {
                        (
                            Expect {
                                ok: true,
                                status: Some(0),
                                response_type: Some("opaqueredirect".into()),
                                ..Expect::default()
                            },
                            &[
                                "statusText is empty",
                                "the response URL is the original one",
                            ],
                        )
                    } else if mode != "no-cors" || origin == "same-origin" {
                        (
                            Expect {
                                ok: true,
                                status: Some(200),
                                ..Expect::default()
                            },
                            &["the response URL is the redirected one"],
                        )
                    } else {
                        (
                            Expect {
                                ok: true,
                                response_type: Some("opaque".into()),
                                ..Expect::default()
                            },
                            &[],
                        )
                    };
                    out.push(simple(file, &test, &request, &url, expect, dropped)?);
                }
            }
        }
    }
    Ok(out)
}

/// `testOriginAfterRedirection(desc, method, redirectUrl, location, code, origin)`: the
/// `Origin` `inspect-headers.py` saw after the redirect. The stored version never passes
/// `method` to `fetch()`, so its "\[POST\]" tests are GETs (imported as written: they
/// become the same scenarios as the GET tests).
fn redirect_origin(file: &File) -> Result<Vec<Case>, String> {
    let mut out = Vec::new();
    for c in redirect_calls(file, "testOriginAfterRedirection", "code", Some(1))? {
        let origin = match c.args.get(5) {
            Some(Js::Null) => None,
            Some(v) => Some(file.eval(v, &c.vars)?.replace("{app}", "{origin}")),
            None => return Err("no expected origin".into()),
        };
        let url = format!(
            "{}?token=T&max_age=0&redirect_status={}&location={}",
            c.redirect_url,
            c.status,
            servers::encode_uri_component(&c.location)
        );
        let expect = Expect {
            ok: true,
            status: Some(200),
            origin: vec![(1, origin)],
            ..Expect::default()
        };
        out.push(simple(
            file,
            &c.desc,
            &Request::get(),
            &url,
            expect,
            &["x-request-origin's value (the Origin is checked in the server log)"],
        )?);
    }
    Ok(out)
}

/// `redirectDataURL(desc, redirectUrl, mode)`: a redirect to a `data:` URL fails.
fn redirect_to_dataurl(file: &File) -> Result<Vec<Case>, String> {
    let data = file.eval(
        &js::binding(&file.script, "dataURL")?.ok_or("no dataURL")?,
        &[],
    )?;
    let mut out = Vec::new();
    for args in file.calls("redirectDataURL")? {
        let desc = arg(file, &args, 0, &[])?;
        let redirect_url = arg(file, &args, 1, &[])?;
        let mode = arg(file, &args, 2, &[])?;
        let url = format!(
            "{redirect_url}?cors&location={}",
            servers::encode_uri_component(&data)
        );
        out.push(simple(
            file,
            &desc,
            &Request::get().mode(mode_of(&mode)?),
            &url,
            Expect::default(),
            &[],
        )?);
    }
    Ok(out)
}

/// A 303 from the remote origin back to the page's `cors-top.txt`, in no-cors and cors
/// mode (two tests written inline: their names are checked against the file's).
fn redirect_back_to_original_origin(file: &File) -> Result<Vec<Case>, String> {
    let names: Vec<String> = file
        .calls("promise_test")?
        .iter()
        .map(|a| arg(file, a, 1, &[]))
        .collect::<Result<_, _>>()?;
    let url = format!(
        "{{api}}/fetch/api/resources/redirect.py?redirect_status=303&location={}",
        servers::encode_uri_component("{app}/fetch/api/resources/cors-top.txt")
    );
    let cases = [
        (
            "original => remote => original with mode: \"no-cors\"",
            "no-cors",
            "opaque",
        ),
        (
            "original => remote => original with mode: \"cors\"",
            "cors",
            "cors",
        ),
    ];
    let mut out = Vec::new();
    for (i, (test, mode, response_type)) in cases.into_iter().enumerate() {
        if names.get(i).map(String::as_str) != Some(test) {
            return Err(format!(
                "test {} is {:?}, not `{test}`",
                i + 1,
                names.get(i)
            ));
        }
        let expect = Expect {
            ok: true,
            response_type: Some(response_type.into()),
            ..Expect::default()
        };
        out.push(simple(
            file,
            test,
            &Request::get().mode(mode_of(mode)?),
            &url,
            expect,
            &[],
        )?);
    }
    Ok(out)
}
