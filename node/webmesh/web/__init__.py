"""The web view (``--services.dashboard.*``): a page with the mesh graph, the nodes and the policy,
kept live by server-sent events.

The only importer of aiohttp, and imported by the daemon only when the view is on (a plain node
never loads either). The document it serves is built by the pure ``webmesh.mesh.view``; this
package authenticates and authorizes (the API's authenticators and RBAC view, no engine of its
own), bounds every connection, stream and wait, and shares one encoding per change among every
reader. It must not import ``webmesh.api`` (a sibling) or the daemon. ``static/`` holds the page
itself (plain HTML, CSS, JavaScript and the vendored graph library, with its licence).
"""
