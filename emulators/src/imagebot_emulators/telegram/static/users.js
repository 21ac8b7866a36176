// The simulated users: two to start with, more added here (kept in localStorage) or seen by the server.
const STORAGE_KEY = "imagebot-chat-users";
const DEFAULT_USERS = [
  { id: 1001, first_name: "Ann", language_code: "ru" },
  { id: 1002, first_name: "Bob", language_code: "en" },
];

export class Users {
  /** `query`: the page's URL parameters; ?user=ID picks (or adds, with &name= and &lang=) the user. */
  constructor(query) {
    this.list = [...DEFAULT_USERS];
    let stored = [];
    try { stored = JSON.parse(localStorage.getItem(STORAGE_KEY) || "[]"); } catch { stored = []; }
    for (const user of stored) this.add(user, false);
    const wanted = Number(query.get("user")) || DEFAULT_USERS[0].id;
    this.add({ id: wanted, first_name: query.get("name") || `User ${wanted}`, language_code: query.get("lang") || "en" });
    this.current = this.find(wanted);
  }

  find(id) { return this.list.find((u) => u.id === id); }

  nextId() { return Math.max(1000, ...this.list.map((u) => u.id)) + 1; }

  add(user, save = true) {
    if (!Number.isSafeInteger(user.id) || user.id <= 0 || this.find(user.id)) return;
    this.list.push({ id: user.id, first_name: String(user.first_name || `User ${user.id}`), language_code: user.language_code || "" });
    if (save) {
      const own = this.list.filter((u) => !DEFAULT_USERS.some((d) => d.id === u.id));
      localStorage.setItem(STORAGE_KEY, JSON.stringify(own));
    }
  }

  renderSelect(select) {
    const label = (u) => `${u.first_name}${u.language_code ? ` (${u.language_code})` : ""}`;
    select.replaceChildren(...this.list.map((u) => new Option(label(u), u.id)), new Option("+ new user", "new"));
    select.value = String(this.current.id);
  }
}
