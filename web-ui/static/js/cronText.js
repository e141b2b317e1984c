// Cron schedules in words a person reads ("every night at 03:30"), shown
// beside the cron text on the Jobs page. Pure, no DOM: unit-tested in Node.
// Anything it does not recognise falls back to null, and the page shows the
// cron text alone rather than a wrong sentence.

const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const NAMES = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6, jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 };

const num = (s) => {
  const k = s.toLowerCase();
  if (k in NAMES) return NAMES[k];
  return /^\d{1,2}$/.test(s) ? Number(s) : NaN;
};
const two = (n) => String(n).padStart(2, "0");

/** "1,3-5" → [1,3,4,5]; null when the field is anything more complex (steps inside lists, names out of range). */
function list(field, min, max) {
  const out = [];
  for (const part of field.split(",")) {
    const [a, b, ...rest] = part.split("-");
    if (rest.length) return null;
    const lo = num(a);
    const hi = b === undefined ? lo : num(b);
    if (!(lo >= min && hi <= max && lo <= hi)) return null;
    for (let i = lo; i <= hi; i++) out.push(i);
  }
  return out;
}

function joinWords(words) {
  return words.length <= 1 ? words.join("") : `${words.slice(0, -1).join(", ")} and ${words[words.length - 1]}`;
}

function timeOfDay(h, m) {
  const at = `at ${two(h)}:${two(m)}`;
  return { at, part: h < 5 || h >= 22 ? "night" : h < 12 ? "morning" : h < 18 ? "afternoon" : "evening" };
}

/** "every 5 minutes", "every hour at :15", "every night at 03:30", "every Sunday at 04:30"; null when unsure. */
export function describeCron(expr) {
  if (typeof expr !== "string") return null;
  let fields = expr.trim().split(/\s+/);
  // node-cron's optional seconds field: only a plain 0 (or *) reads naturally.
  if (fields.length === 6) {
    if (fields[0] !== "0") return null;
    fields = fields.slice(1);
  }
  if (fields.length !== 5) return null;
  const [min, hour, dom, mon, dow] = fields;
  const anyDay = dom === "*" && mon === "*" && (dow === "*" || dow === "0-6" || dow === "0-7");

  const step = /^\*\/(\d+)$/;
  if (anyDay && hour === "*") {
    if (min === "*") return "every minute";
    const s = step.exec(min);
    if (s) return Number(s[1]) === 1 ? "every minute" : `every ${Number(s[1])} minutes`;
    const m = list(min, 0, 59);
    if (m && m.length === 1) return m[0] === 0 ? "every hour, on the hour" : `every hour at :${two(m[0])}`;
    return null;
  }
  const minutes = list(min, 0, 59);
  if (!minutes || minutes.length !== 1) return null;
  const hs = step.exec(hour);
  if (hs && anyDay) return `every ${Number(hs[1])} hours at :${two(minutes[0])}`;
  const hours = list(hour, 0, 23);
  if (!hours || hours.length === 0) return null;
  const times = hours.map((h) => `${two(h)}:${two(minutes[0])}`);
  const when = hours.length === 1 ? timeOfDay(hours[0], minutes[0]) : { at: `at ${joinWords(times)}`, part: "day" };

  if (anyDay) return hours.length === 1 ? `every ${when.part === "afternoon" ? "day" : when.part} ${when.at}` : `every day ${when.at}`;
  if (dom === "*" && mon === "*") {
    const days = list(dow.replace(/\b7\b/g, "0"), 0, 6);
    if (!days) return null;
    const set = [...new Set(days)].sort((a, b) => a - b);
    if (set.join() === "1,2,3,4,5") return `every weekday ${when.at}`;
    if (set.join() === "0,6") return `every weekend day ${when.at}`;
    return `every ${joinWords(set.map((d) => DAYS[d]))} ${when.at}`;
  }
  if (dow === "*") {
    const days = list(dom, 1, 31);
    if (!days || days.length !== 1) return null;
    const d = days[0];
    const suffix = d % 10 === 1 && d !== 11 ? "st" : d % 10 === 2 && d !== 12 ? "nd" : d % 10 === 3 && d !== 13 ? "rd" : "th";
    if (mon === "*") return `on the ${d}${suffix} of every month ${when.at}`;
    const months = list(mon, 1, 12);
    if (!months || months.length !== 1) return null;
    return `every year on ${MONTHS[months[0] - 1]} ${d} ${when.at}`;
  }
  return null;
}
