// The API reference page: Swagger UI (served by this server, no CDN) on the server's own
// OpenAPI document. A file of its own because the page's CSP allows no inline script.
window.addEventListener("load", () => {
  window.SwaggerUIBundle({
    url: "/schema/openapi.json",
    dom_id: "#api-reference",
    deepLinking: true,
    // Calls made from the page carry the editor's session cookie (same origin).
    withCredentials: true,
  });
});
