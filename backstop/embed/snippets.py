"""The copy-paste snippets on Cancel flows → Embed on your site and in docs/embed.md."""

from __future__ import annotations

from backstop.paths import templates_dir

STUB = (
    "window.Backstop=window.Backstop||{q:[]};"
    '["cancel","portal","paymentWall"].forEach(function(m){'
    "Backstop[m]=Backstop[m]||function(){Backstop.q.push([m,arguments])}});"
)


def modal(base: str) -> str:
    return f"""<!-- In your app's page, once: -->
<script>{STUB}</script>
<script async src="{base}/embed.js"></script>

<!-- Your "Cancel subscription" button: -->
<button type="button" id="cancel-subscription">Cancel subscription</button>
<script>
  document.getElementById("cancel-subscription").addEventListener("click", function () {{
    Backstop.cancel({{
      // Your backend signs a fresh token for the signed-in customer (see the signers below).
      token: function () {{ return fetch("/backstop-token", {{method: "POST"}}).then(function (r) {{ return r.text(); }}); }},
      onSaved: function (result) {{ /* result.outcome: saved_discount, saved_pause, … */ }},
      onCanceled: function () {{ window.location.reload(); }},
      onClose: function () {{}},
      onError: function (error) {{ console.error(error); }}
    }});
  }});
</script>"""


def redirect(base: str) -> str:
    return f"""# On your server, when the customer clicks "Cancel subscription":
curl -s -X POST {base}/api/v1/embed/sessions \\
  -H 'Content-Type: application/json' \\
  -d '{{"token": "<a token your backend signed>", "return_url": "https://app.example.com/account"}}'
# → {{"url": "{base}/cancel/s/…"}}: redirect the customer's browser there. When they finish,
#   Backstop sends them back to return_url with ?outcome=saved_discount|…|canceled."""


def curl_check(base: str) -> str:
    return f"""curl -s -X POST {base}/api/v1/embed/check \\
  -H 'Content-Type: application/json' \\
  -d '{{"token": "<a token your backend signed>"}}'"""


SIGNERS = {"python": "python.txt", "node": "node.txt"}


def signer(language: str) -> str:
    """A backend signer sample (docs/embed.md shows the same text; tests run both)."""
    return (templates_dir() / "admin" / "_signers" / SIGNERS[language]).read_text()
