// The review page: outline each matched region on its thumbnail, decide with buttons or keys
// (a accept, r reject, s or → skip); a decided match leaves the page without a reload.
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const statusLine = document.getElementById("review-status");

// The outline is drawn in archive pixels: the SVG's view box is the thumbnail's frame in those pixels.
function outline(img) {
  const svg = img.parentElement.querySelector("svg[data-width]");
  if (!svg || !img.naturalWidth) return;
  const width = Number(svg.dataset.width);
  svg.setAttribute("viewBox", `0 0 ${width} ${width * img.naturalHeight / img.naturalWidth}`);
}

function cards() { return [...document.querySelectorAll("article.match")]; }

function current() { return document.querySelector("article.match.current"); }

// Make the next card still to decide (after `from`, wrapping round) the current one.
function advance(from) {
  const all = cards();
  const start = from ? all.indexOf(from) + 1 : 0;
  const order = [...all.slice(start), ...all.slice(0, start)];
  const next = order.find((card) => card !== from && !card.classList.contains("skipped")) || null;
  all.forEach((card) => card.classList.remove("current"));
  if (next) {
    next.classList.add("current");
    next.scrollIntoView({ block: "nearest" });
  }
  document.getElementById("queue-done").hidden = Boolean(next);
}

function skip(card) {
  card.classList.add("skipped");
  advance(card);
}

async function decide(card, status) {
  if (card.classList.contains("busy")) return;  // a key held down posts once
  card.classList.add("busy");
  const response = await fetch(`/api/figures/matches/${card.dataset.id}/decision`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify({ status }),
  });
  const answer = await response.json();
  if (!response.ok) {
    card.classList.remove("busy");
    statusLine.textContent = answer.error;
    return;
  }
  const match = answer.match;
  statusLine.textContent = `${status} match ${match.id}: ${match.image_rel_path} in ${match.article}`;
  document.getElementById("queue-total").textContent = answer.remaining.toLocaleString("en");
  advance(card);
  card.remove();
  if (!cards().length) document.getElementById("queue-done").hidden = false;
}

function setUp() {
  if (!document.getElementById("queue")) return;
  document.querySelectorAll(".outlined img.archive").forEach((img) => {
    if (img.complete) outline(img);
    img.addEventListener("load", () => outline(img));
  });
  for (const card of cards()) {
    card.addEventListener("click", (event) => {
      const button = event.target.closest("button");
      if (!button) return;
      if (button.dataset.decision) decide(card, button.dataset.decision);
      else skip(card);
    });
  }
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.target.closest("input, select, textarea")) return;
    const card = current();
    if (!card) return;
    const action = { a: "accepted", r: "rejected" }[event.key];
    if (action) decide(card, action);
    else if (event.key === "s" || event.key === "ArrowRight") skip(card);
    else return;
    event.preventDefault();
  });
  advance(null);
}

setUp();
