// Starts Swagger UI on the server's own OpenAPI document. A served file,
// not an inline script: the page's CSP allows scripts from this server only.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    // No badge fetched from validator.swagger.io: no request leaves the server.
    validatorUrl: "none",
    deepLinking: true,
    defaultModelsExpandDepth: 1,
    defaultModelExpandDepth: 3,
    displayRequestDuration: true,
    tryItOutEnabled: false,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
});
