// Dashboard behaviour: charts (clicking a bar opens Explore with that filter) and tidy filter URLs.
"use strict";

function drawCharts() {
  const source = document.getElementById("chart-data");
  if (!source || !window.Plotly) return;
  const charts = JSON.parse(source.textContent);
  document.querySelectorAll("[data-chart]").forEach((el) => {
    const traces = charts[el.dataset.chart] || [];
    if (!traces.length) { el.textContent = "no data"; el.classList.add("nodata"); return; }
    const layout = {
      barmode: el.dataset.stack ? "stack" : "group",
      margin: { l: 56, r: 12, t: 8, b: 48 },
      showlegend: traces.length > 1,
      legend: { orientation: "h", y: -0.2 },
      xaxis: { type: "category" },
      yaxis: { title: { text: "acquisitions" }, rangemode: "tozero" },
      font: { family: "system-ui, sans-serif", size: 12 },
      paper_bgcolor: "rgba(0,0,0,0)",
    };
    Plotly.newPlot(el, traces, layout, { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] });
    el.on("plotly_click", (event) => {
      const query = event.points[0].customdata;
      if (query) window.location.href = "/explore?" + query;
    });
  });
}

function tidyFilterForm() {
  const form = document.getElementById("filters");
  if (!form) return;
  // Empty fields would clutter the shareable URL: leave them out of the query string.
  form.addEventListener("submit", () => {
    form.querySelectorAll("input, select").forEach((field) => {
      if (!field.value || (field.name === "order" && field.value === "path")) field.disabled = true;
    });
  });
}

function linkForm() {
  const form = document.getElementById("link-article");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const linked = event.submitter.value === "true";
    const response = await fetch(`/api/images/${form.dataset.image}/articles`, {
      method: "POST",
      headers: { "Content-Type": "application/json",
                 "X-CSRF-Token": document.querySelector('meta[name="csrf-token"]').content },
      body: JSON.stringify({ article: form.article.value, linked }),
    });
    const answer = await response.json();
    document.getElementById("link-status").textContent = response.ok
      ? `${linked ? "linked to" : "unlinked from"} ${answer.article}` : answer.error;
    if (response.ok) await showPublished(form.dataset.image);
  });
}

// The "Published in" list as the catalog has it now (after a link or unlink, without a reload).
async function showPublished(image) {
  const response = await fetch(`/api/images/${image}`);
  if (!response.ok) return;
  const articles = (await response.json()).published_in;
  const box = document.getElementById("published");
  if (!articles.length) {
    const none = document.createElement("p");
    none.className = "muted";
    none.textContent = "Not linked to any article: lost data, as far as the ledger knows.";
    box.replaceChildren(none);
    return;
  }
  const list = document.createElement("ul");
  list.className = "published";
  for (const article of articles) {
    const item = document.createElement("li");
    const id = document.createElement("strong");
    id.textContent = article.id;
    item.append(id, ` (${article.year || "—"})`);
    if (article.title) item.append(` · ${article.title}`);
    if (article.journal) {
      const journal = document.createElement("em");
      journal.textContent = article.journal;
      item.append(" · ", journal);
    }
    list.append(item);
  }
  box.replaceChildren(list);
}

drawCharts();
tidyFilterForm();
linkForm();
