// greenbench leaderboard: sorting and filtering of the tables already on the page.
// Plain JavaScript, nothing fetched; without it the tables are complete, ranked by energy.
(function () {
  "use strict";

  function cellValue(row, index, kind) {
    var cell = row.cells[index];
    var raw = cell.hasAttribute("data-value") ? cell.getAttribute("data-value") : cell.textContent;
    if (kind === "number") {
      var n = parseFloat(raw);
      return isNaN(n) ? null : n;
    }
    return raw.trim() === "" ? null : raw.trim();
  }

  function sortBy(table, th) {
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var kind = th.querySelector("button").getAttribute("data-sort");
    var order = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
    table.querySelectorAll("thead th[aria-sort]").forEach(function (other) {
      other.setAttribute("aria-sort", "none");
    });
    th.setAttribute("aria-sort", order);
    var sign = order === "ascending" ? 1 : -1;
    table.querySelectorAll("tbody").forEach(function (body) {
      var rows = Array.prototype.slice.call(body.querySelectorAll("tr.row"));
      rows.sort(function (a, b) {
        var x = cellValue(a, index, kind), y = cellValue(b, index, kind);
        if (x === null || y === null) { return (x === null) - (y === null); }  // missing last
        if (x < y) { return -sign; }
        if (x > y) { return sign; }
        return 0;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  }

  function applyFilters(form) {
    var wanted = {};
    form.querySelectorAll("[data-filter]").forEach(function (input) {
      wanted[input.getAttribute("data-filter")] = input.value.trim().toLowerCase();
    });
    var words = (wanted.params || "").split(/\s+/).filter(Boolean);
    var shown = 0, total = 0;
    document.querySelectorAll("table.board tbody").forEach(function (body) {
      var visible = 0;
      body.querySelectorAll("tr.row").forEach(function (row) {
        var params = (row.getAttribute("data-params") || "").toLowerCase();
        var keep = (!wanted.hardware || row.getAttribute("data-hardware").toLowerCase() === wanted.hardware) &&
          (!wanted.precision || row.getAttribute("data-precision").toLowerCase() === wanted.precision) &&
          words.every(function (w) { return params.indexOf(w) !== -1; });
        row.hidden = !keep;
        visible += keep ? 1 : 0;
        total += 1;
      });
      body.hidden = visible === 0;
      shown += visible;
    });
    var output = form.querySelector("output");
    if (output) { output.textContent = shown + " of " + total + " results shown"; }
  }

  document.querySelectorAll("table.board").forEach(function (table) {
    table.querySelectorAll("thead th[aria-sort] button").forEach(function (button) {
      button.addEventListener("click", function () { sortBy(table, button.parentNode); });
    });
  });
  var form = document.querySelector("form.filters");
  if (form) {
    form.addEventListener("input", function () { applyFilters(form); });
    form.addEventListener("change", function () { applyFilters(form); });
    form.addEventListener("submit", function (event) { event.preventDefault(); });
  }
}());
