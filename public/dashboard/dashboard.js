/*
 * The Bedrock Support Mode dashboard. Every figure comes from the API's own JSON routes, read with
 * the Basic credentials the browser keeps for this origin; every control calls the API's own
 * route, so the key's role decides and the audit trail records it. Changes carry the X-BSM-CSRF
 * header, which a page of another site cannot send. Refreshes every 30 s without reloading.
 */
(function () {
  'use strict';

  const admin = '/admin/bedrock-support';
  const refreshMs = 30000;
  let session = null;
  const charts = {};

  // ---- DOM helpers: text only, never markup from data ----
  const $ = (id) => document.getElementById(id);
  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) {
      e.textContent = String(text);
    }
    if (cls) {
      e.className = cls;
    }
    return e;
  }
  function facts(id, pairs) {
    const dl = $(id);
    dl.replaceChildren();
    for (const [label, value, cls] of pairs) {
      dl.append(el('dt', label), el('dd', value === null || value === undefined ? 'no data' : value, cls));
    }
  }
  function rows(tableId, data, cells, empty) {
    const body = $(tableId).querySelector('tbody');
    body.replaceChildren();
    if (data.length === 0) {
      const tr = el('tr');
      const td = el('td', empty || 'no data', 'nodata');
      td.colSpan = $(tableId).querySelectorAll('th').length;
      tr.append(td);
      body.append(tr);
      return;
    }
    for (const item of data) {
      const tr = el('tr');
      for (const c of cells(item)) {
        tr.append(c instanceof Node ? wrapCell(c) : el('td', c === null || c === undefined ? '–' : c));
      }
      body.append(tr);
    }
  }
  function wrapCell(node) {
    const td = el('td');
    td.append(node);
    return td;
  }
  function list(id, items, render, empty) {
    const ul = $(id);
    ul.replaceChildren();
    if (items.length === 0) {
      ul.append(el('li', empty || 'no data', 'nodata'));
      return;
    }
    for (const item of items) {
      ul.append(render(item));
    }
  }
  const badge = (text) => el('span', text, `badge s-${text}`);
  const ms = (n) => (n === null || n === undefined ? '–' : `${n} ms`);
  const pct = (r) => (r === null || r === undefined ? 'no data' : `${Math.round(r * 1000) / 10} %`);
  const usd = (n) => (n === null || n === undefined ? 'none' : `${Math.round(n * 10000) / 10000} USD`);

  // ---- the API ----
  async function api(path, options) {
    const init = { credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (options && options.method) {
      init.method = options.method;
      init.headers['Content-Type'] = 'application/json';
      init.headers[session ? session.csrfHeader : 'X-BSM-CSRF'] = '1';
      init.body = JSON.stringify(options.body || {});
    }
    const res = await fetch(path, init);
    const body = await res.json().catch(() => null);
    if (!res.ok) {
      const message = body && body.error ? body.error.message : `HTTP ${res.status}`;
      const err = new Error(message);
      err.status = res.status;
      throw err;
    }
    return body;
  }
  /** What has a "latest" to show, read at each refresh (asking a latest that does not exist would be a 404). */
  let available = { audit: false, analysis: false, daily: false, weekly: false };
  /** A latest read, asked only when there is one; null means "none yet". */
  const maybe = (what, path) => (available[what] ? api(path).catch((err) => (err.status === 404 ? null : Promise.reject(err))) : Promise.resolve(null));

  // ---- panels ----
  function renderStatus(s) {
    const v = $('status-value');
    v.textContent = s.status;
    v.className = `badge s-${s.status}`;
    facts('activation-facts', [
      ['Feature flag', s.featureFlag.enabled ? 'on' : 'off'],
      ['Last change', s.lastTransition ? `${s.lastTransition.action} by ${s.lastTransition.by} at ${s.lastTransition.at}` : 'none yet'],
      ['Reason', s.lastTransition ? s.lastTransition.reason : null],
      ['Emergency', s.emergency ? `${s.emergency.reason} (by ${s.emergency.initiatedBy} at ${s.emergency.at})` : 'none'],
    ]);
    rows('activation-components', Object.entries(s.components), ([name, c]) => [name, badge(c.active ? 'active' : 'inactive'), c.since, c.queue.workers, c.queue.waiting]);
  }

  function renderHealth(h) {
    const o = $('health-overall');
    o.textContent = h.status;
    o.className = `badge s-${h.status}`;
    rows('health-matrix', Object.entries(h.components), ([name, c]) => [name, badge(c.status), c.reasons.length ? c.reasons.join('; ') : '–']);
  }

  function renderPerformance(p) {
    rows('performance', Object.entries(p.operations), ([op, o]) => [op, o.count, o.successRate === null ? '–' : pct(o.successRate), ms(o.p50Ms), ms(o.p90Ms), ms(o.p95Ms), ms(o.p99Ms)]);
  }

  function chart(id, series, data) {
    const box = $(id);
    const width = Math.max(240, box.clientWidth || 300);
    if (charts[id] && charts[id].width === width) {
      charts[id].setData(data);
      return;
    }
    if (charts[id]) {
      charts[id].destroy();
    }
    charts[id] = new uPlot({ width, height: 200, series: [{}].concat(series), axes: [{}, { size: 50 }], scales: { x: { time: true } }, legend: { show: true } }, data, box);
  }

  function renderSeries(s) {
    const xs = s.points.map((p) => Date.parse(p.at) / 1000);
    chart('chart-errors', [{ label: 'error rate %', stroke: '#cf222e', width: 2 }], [xs, s.points.map((p) => p.errorRatePct)]);
    chart('chart-latency', [{ label: 'p50 ms', stroke: '#0969da', width: 2 }, { label: 'p95 ms', stroke: '#9a6700', width: 2 }], [xs, s.points.map((p) => p.p50Ms), s.points.map((p) => p.p95Ms)]);
    const total = s.points.reduce((n, p) => n + p.count, 0);
    $('errors-note').textContent = total === 0 ? 'no data: no support operation measured in the last 24 h' : `${total} operations, ${s.points.reduce((n, p) => n + p.errors, 0)} errors`;
  }

  function renderAudit(a) {
    if (a === null) {
      facts('audit-facts', [['Audit', 'no audit has finished yet']]);
      rows('audit-gaps', [], () => []);
      return;
    }
    facts('audit-facts', [
      ['Audit', a.auditId],
      ['Status', a.status, `badge s-${a.status}`],
      ['Score', a.score],
      ['Finished', a.finishedAt],
      ['Targets', `${a.summary.pass} pass, ${a.summary.fail} fail, ${a.summary.error} error`],
    ]);
    rows('audit-gaps', a.gaps.slice(0, 15), (g) => [g.title, g.severity, g.change], 'no gaps');
  }

  function renderInsights(i) {
    if (i === null) {
      facts('insights-facts', [['Analysis', 'no analysis stored yet']]);
      list('insights-list', [], () => null);
      return;
    }
    facts('insights-facts', [['Analysis', i.analysisId], ['Window', `${i.window.from} to ${i.window.to}`], ['Health score', i.healthScore]]);
    list('insights-list', i.insights.slice(0, 12), (x) => el('li', `${x.type.replace('_', ' ')}${x.level ? ` ${x.level}` : ''}: ${x.summary}`), 'no clusters, bottlenecks or degradations');
  }

  function renderActivities(a, approvals) {
    const auto = a.autoResolution['24h'];
    facts('activities-facts', [
      ['Since', a.since],
      ['Suggested / applied', `${a.counts.suggested} / ${a.counts.applied}`],
      ['Verified / failed', `${a.counts.verified} / ${a.counts.failed}`],
      ['Awaiting approval', a.awaitingApproval],
      ['Auto-resolution 24 h', `${pct(auto.rate)} of ${auto.attempted}`],
    ]);
    list(
      'approvals-list',
      approvals.requests,
      (r) => {
        const li = el('li', `${r.id}: ${r.suggestion} on ${r.gapId} (requested by ${r.requestedBy || 'unknown'})`);
        if (session && session.can.approve) {
          li.append(actionButton('Approve', () => decide(r.id, 'approve')), actionButton('Reject', () => decide(r.id, 'reject'), 'danger'));
        }
        return li;
      },
      'nothing waits for approval',
    );
  }

  function renderRouting(r) {
    facts('routing-facts', [
      // Every decision of the window; efficiency counts only those a remote path could have served.
      ['Decisions', r.totalDecisions],
      ['Judged for efficiency', r.decisions],
      ['Efficiency', pct(r.efficiency)],
      ['Fallback rate', pct(r.fallbackRate)],
      ['Within budget', pct(r.withinBudgetRate)],
      ['Cost', usd(r.costUsd)],
    ]);
    rows('routing-paths', Object.entries(r.paths || {}), ([path, p]) => [path, p.attempts, p.errors, ms(p.p95LatencyMs)]);
  }

  function renderCosts(c) {
    facts('costs-facts', [
      ['Today', `${usd(c.status.day.spentUsd)} of ${c.status.day.budgetUsd === null ? 'no budget' : usd(c.status.day.budgetUsd)}${c.status.day.usedPct === null ? '' : ` (${c.status.day.usedPct} %)`}`],
      ['This month', `${usd(c.status.month.spentUsd)} of ${c.status.month.budgetUsd === null ? 'no budget' : usd(c.status.month.budgetUsd)}${c.status.month.usedPct === null ? '' : ` (${c.status.month.usedPct} %)`}`],
      ['Last 7 days', usd(c.days.reduce((n, d) => n + d.totals.costUsd, 0))],
      ['Paid path', c.status.exhausted ? `refused: ${c.status.reason}` : 'open'],
    ]);
  }

  function renderAlerts(a) {
    const open = a.alerts.filter((x) => x.state !== 'resolved');
    list(
      'alerts-list',
      open,
      (x) => {
        const li = el('li');
        li.append(badge(x.state), el('span', ` ${x.level} ${x.title}: ${x.detail || ''}`));
        if (session && session.can.operate && x.state === 'firing') {
          li.append(actionButton('Acknowledge', () => ack(x.id)));
        }
        return li;
      },
      'no open alerts',
    );
  }

  function renderDaily(d) {
    if (d === null) {
      facts('daily-facts', [['Daily check', 'none stored yet']]);
      list('daily-reasons', [], () => null);
      return;
    }
    facts('daily-facts', [
      ['Checked', d.checkedAt],
      ['Verdict', d.verdict.result.toUpperCase(), `badge s-${d.verdict.result}`],
      ['Warnings', d.verdict.warnings.length],
    ]);
    const items = d.verdict.reasons.slice(0, 10);
    list('daily-reasons', items, (r) => el('li', r), 'no reason to fail');
    $('daily-reasons').append(link(`${admin}/reports/daily/${d.reportId}?format=html`, 'Read the whole check'));
  }

  function renderWeekly(w) {
    if (w === null) {
      facts('weekly-facts', [['Weekly review', 'none stored yet']]);
      list('weekly-suggestions', [], () => null);
      return;
    }
    facts('weekly-facts', [
      ['Week', `${w.from.slice(0, 10)} to ${w.to.slice(0, 10)}`],
      ['Gaps opened / resolved / recurring', `${w.gaps.opened} / ${w.gaps.resolved} / ${w.gaps.recurring}`],
      ['Remediation success', pct(w.remediation.successRate)],
      ['Backlog movement', `${w.backlog.openAtStart} → ${w.backlog.openNow}`],
      ['LLM spend this week', usd(w.llmCost.weekUsd)],
    ]);
    list('weekly-suggestions', w.suggestions.slice(0, 8), (s) => el('li', `${s.target}: ${s.suggested} (${s.evidence[0]})`), 'no change suggested');
    $('weekly-suggestions').append(link(`${admin}/reports/weekly/${w.reportId}?format=html`, 'Read the whole review'));
  }

  function link(href, text) {
    const li = el('li');
    const a = el('a', text);
    a.href = href;
    a.target = '_blank';
    a.rel = 'noopener';
    li.append(a);
    return li;
  }

  // ---- refresh ----
  const panels = [
    ['card-activation', () => api(`${admin}/status`).then(renderStatus)],
    ['card-health', () => api('/health/bedrock-support/detailed').then(renderHealth)],
    ['card-performance', () => api(`${admin}/metrics/performance?window=24h`).then(renderPerformance)],
    ['card-error-trend', () => api(`${admin}/metrics/series?window=24h`).then(renderSeries)],
    ['card-audit', () => maybe('audit', `${admin}/audit/latest`).then(renderAudit)],
    ['card-insights', () => maybe('analysis', `${admin}/meta-monitor/insights`).then(renderInsights)],
    ['card-activities', () => Promise.all([api(`${admin}/implementation/activities`), api(`${admin}/implementation/approvals`)]).then(([a, b]) => renderActivities(a, b))],
    ['card-routing', () => api(`${admin}/metrics/routing?window=24h`).then(renderRouting)],
    ['card-costs', () => api(`${admin}/costs?days=7`).then(renderCosts)],
    ['card-alerts', () => api(`${admin}/alerts`).then(renderAlerts)],
    ['card-daily', () => maybe('daily', `${admin}/reports/daily/latest`).then(renderDaily)],
    ['card-weekly', () => maybe('weekly', `${admin}/reports/weekly/latest`).then(renderWeekly)],
  ];

  let refreshing = false;
  async function refresh() {
    if (refreshing) {
      return;
    }
    refreshing = true;
    available = await api('/dashboard/available').catch(() => available);
    const results = await Promise.allSettled(panels.map(([, load]) => load()));
    const failed = [];
    results.forEach((r, i) => {
      const card = $(panels[i][0]);
      card.classList.toggle('failed', r.status === 'rejected');
      if (r.status === 'rejected') {
        failed.push(`${card.querySelector('h3').textContent}: ${r.reason.message}`);
      }
    });
    $('refreshed').textContent = `updated ${new Date().toLocaleTimeString()}`;
    $('refreshed').dataset.at = String(Date.now());
    if (failed.length > 0) {
      show(`Could not read: ${failed.join('; ')}`, false);
    }
    refreshing = false;
  }

  function show(message, ok) {
    const b = $('banner');
    b.textContent = message;
    b.className = ok ? 'banner ok' : 'banner';
    b.hidden = false;
  }

  // ---- controls ----
  function actionButton(label, run, cls) {
    const b = el('button', label, cls);
    b.type = 'button';
    b.addEventListener('click', run);
    return b;
  }

  /** Asks for confirmation and a reason (required for the dangerous ones); resolves to the reason, or null when cancelled. */
  function confirmWith(title, text, reasonRequired) {
    const dialog = $('confirm');
    $('confirm-title').textContent = title;
    $('confirm-text').textContent = text;
    $('confirm-required').textContent = reasonRequired ? '(required)' : '(optional)';
    $('confirm-reason').value = '';
    $('confirm-error').textContent = '';
    return new Promise((resolve) => {
      const done = (value) => {
        $('confirm-form').removeEventListener('submit', submit);
        $('confirm-cancel').removeEventListener('click', cancel);
        dialog.close();
        resolve(value);
      };
      const submit = (e) => {
        e.preventDefault();
        const reason = $('confirm-reason').value.trim();
        if (reasonRequired && reason === '') {
          $('confirm-error').textContent = 'Give a reason: it goes to the audit trail.';
          return;
        }
        done(reason);
      };
      const cancel = () => done(null);
      $('confirm-form').addEventListener('submit', submit);
      $('confirm-cancel').addEventListener('click', cancel);
      dialog.showModal();
      $('confirm-reason').focus();
    });
  }

  async function act(title, text, dangerous, call) {
    const reason = await confirmWith(title, text, dangerous);
    if (reason === null) {
      return;
    }
    try {
      const answer = await call(reason === '' ? undefined : reason);
      show(`${title}: done${answer && answer.reportId ? ` (${answer.reportId})` : answer && answer.auditId ? ` (${answer.auditId})` : answer && answer.analysisId ? ` (${answer.analysisId})` : ''}`, true);
    } catch (err) {
      show(`${title}: ${err.message}`, false);
    }
    await refresh();
  }

  const withReason = (reason, body) => (reason === undefined ? body : Object.assign({ reason }, body));
  const actions = {
    enable: () => act('Enable support mode', 'Enables support mode with every component inactive (the runbook\'s first activation step).', false, (r) => api(`${admin}/enable`, { method: 'POST', body: withReason(r, { active: false }) })),
    'activate-component': () => {
      const component = $('component-select').value;
      return act(`Activate ${component}`, `Starts ${component}'s queue.`, true, (r) => api(`${admin}/activate-component`, { method: 'POST', body: withReason(r, { component }) }));
    },
    'activate-all': () => act('Activate all components', 'Starts every component (full activation).', true, (r) => api(`${admin}/activate`, { method: 'POST', body: withReason(r, { components: ['all'] }) })),
    deactivate: () => act('Deactivate support mode', 'Pauses every component; their jobs wait.', true, (r) => api(`${admin}/deactivate`, { method: 'POST', body: withReason(r, {}) })),
    audit: () => act('Trigger a comprehensive audit', 'Queues a comprehensive infrastructure audit.', false, (r) => api(`${admin}/audit/trigger`, { method: 'POST', body: withReason(r, { type: 'comprehensive', priority: 'high' }) })),
    analyze: () => act('Start an analysis', "Analyses the agent's executions of the last 24 h.", false, () => api(`${admin}/meta-monitor/analyze`, { method: 'POST', body: { timeframe: 'last-24h', focus: 'all', priority: 'high' } })),
    daily: () => act('Run the daily check', 'Runs the Morning Support Mode Check now.', false, (r) => api(`${admin}/reports/daily`, { method: 'POST', body: withReason(r, {}) })),
    weekly: () => act('Run the weekly review', 'Runs the Weekly Support Mode Review now.', false, (r) => api(`${admin}/reports/weekly`, { method: 'POST', body: withReason(r, {}) })),
    shutdown: () =>
      act('EMERGENCY SHUTDOWN', 'Stops every support operation at once and cancels running jobs. Recovery is the runbook\'s reactivation, one component at a time.', true, (r) =>
        api(`${admin}/emergency/shutdown`, { method: 'POST', body: { reason: r, initiated_by: session.name, immediate: true } }),
      ),
  };

  function decide(id, decision) {
    return act(`${decision === 'approve' ? 'Approve' : 'Reject'} ${id}`, decision === 'approve' ? 'Runs the remediation this request asks for.' : 'Refuses the request; nothing runs.', true, (r) =>
      api(`${admin}/implementation/approvals/${encodeURIComponent(id)}`, { method: 'POST', body: { decision, reason: r } }),
    );
  }
  function ack(id) {
    return act(`Acknowledge ${id}`, 'Marks the alert as seen; it stays open until its condition clears.', false, (r) => api(`${admin}/alerts/${encodeURIComponent(id)}/ack`, { method: 'POST', body: r === undefined ? {} : { note: r } }));
  }

  async function start() {
    session = await api('/dashboard/session');
    $('who').textContent = `${session.name} (${session.role})`;
    if (session.can.operate) {
      $('controls').hidden = false;
      for (const b of document.querySelectorAll('#controls button[data-action]')) {
        b.addEventListener('click', () => void actions[b.dataset.action]());
      }
    } else {
      // Viewers and approvers get no lifecycle controls at all, not just disabled ones.
      $('controls').remove();
    }
    $('refresh-now').addEventListener('click', () => void refresh());
    await refresh();
    setInterval(() => void refresh(), refreshMs);
  }

  document.addEventListener('DOMContentLoaded', () => {
    start().catch((err) => show(`The dashboard could not start: ${err.message}`, false));
  });
})();
