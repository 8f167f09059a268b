#include "sender/rollout/plan.hpp"

#include <nlohmann/json.hpp>

#include <stdexcept>

#include "sender/fleet/inventory.hpp"

namespace fleetcast::sender {
namespace {

WindowSet parsed(const std::vector<std::string>& texts) {
  WindowSet out;
  for (const std::string& text : texts) {
    std::string error;
    const auto w = Window::parse(text, &error);
    if (!w) throw std::runtime_error("window '" + text + "': " + error);
    out.add(*w);
  }
  return out;
}

// The rollout's windows and each group's (--window @GROUP=, else the inventory's).
std::vector<std::string> window_texts(const Host& h, const Inventory& inventory,
                                      const RolloutOptions& r) {
  std::vector<std::string> out = r.windows;
  for (const std::string& g : h.groups) {
    if (const auto it = r.group_windows.find(g); it != r.group_windows.end()) {
      out.push_back(it->second);
    } else if (const auto jt = inventory.windows().find(g); jt != inventory.windows().end()) {
      out.push_back(jt->second);
    }
  }
  return out;
}

}  // namespace

RolloutPlan make_plan(const std::vector<const Host*>& targets, const Inventory& inventory,
                      const RolloutOptions& r) {
  RolloutPlan plan;
  for (const Host* h : targets) {
    plan.hosts.push_back(h->name);
    if (const Site* s = inventory.site_of(h->name)) {
      plan.sites[h->name] = s->name + " (relay " + s->relay + ")";
    }
  }
  const auto& groups = inventory.redundancy();
  std::vector<Amount> steps = r.waves;
  if (r.in_turns) {
    steps = turn_steps(plan.hosts, groups);
    if (steps.empty()) steps = {Amount{100, true}};
  }
  RedundantPlan waves = plan_redundant_waves(steps, plan.hosts, groups);
  if (!waves.violations.empty() && !r.force) {
    std::string text;
    for (const auto& v : waves.violations) text += "\n  " + v;
    throw std::runtime_error("these waves break redundancy rules (--force keeps them):" + text);
  }
  plan.waves = std::move(waves.waves);
  plan.before = std::move(waves.before);
  plan.before.resize(targets.size());
  plan.notes = std::move(waves.notes);
  plan.violations = std::move(waves.violations);
  for (const Host* h : targets) plan.windows.push_back(parsed(window_texts(*h, inventory, r)));
  plan.max_fail = r.max_fail;
  plan.waves_text = r.waves_text;
  plan.soak = r.soak;
  plan.activate_timeout = r.activate_timeout;
  plan.forced = r.force;
  return plan;
}

std::string to_json(const RolloutPlan& plan) {
  nlohmann::json windows = nlohmann::json::array(), before = nlohmann::json::array();
  for (const WindowSet& set : plan.windows) {
    nlohmann::json texts = nlohmann::json::array();
    for (const Window& w : set.windows()) texts.push_back(w.text());
    windows.push_back(texts);
  }
  for (const auto& list : plan.before) {
    nlohmann::json b = nlohmann::json::array();
    for (const auto& item : list) b.push_back({{"host", item.host}, {"why", item.why}});
    before.push_back(b);
  }
  const nlohmann::json j = {{"version", 1},
                            {"hosts", plan.hosts},
                            {"waves", plan.waves},
                            {"windows", windows},
                            {"before", before},
                            {"max_fail", plan.max_fail.to_string()},
                            {"waves_text", plan.waves_text},
                            {"soak_s", plan.soak.count()},
                            {"activate_timeout_s", plan.activate_timeout.count()},
                            {"notes", plan.notes},
                            {"violations", plan.violations},
                            {"forced", plan.forced},
                            {"sites", plan.sites}};
  return j.dump();
}

std::optional<RolloutPlan> plan_from_json(const std::string& text, std::string* error) {
  try {
    const auto j = nlohmann::json::parse(text);
    if (j.at("version").get<int>() != 1) throw std::runtime_error("unknown plan version");
    RolloutPlan plan;
    plan.hosts = j.at("hosts").get<std::vector<std::string>>();
    plan.waves = j.at("waves").get<std::vector<std::vector<std::size_t>>>();
    for (const auto& texts : j.at("windows")) {
      plan.windows.push_back(parsed(texts.get<std::vector<std::string>>()));
    }
    for (const auto& list : j.at("before")) {
      plan.before.emplace_back();
      for (const auto& item : list) {
        plan.before.back().push_back(
            {item.at("host").get<std::size_t>(), item.at("why").get<std::string>()});
      }
    }
    const auto max_fail = Amount::parse(j.at("max_fail").get<std::string>());
    if (!max_fail) throw std::runtime_error("bad max_fail");
    plan.max_fail = *max_fail;
    plan.waves_text = j.at("waves_text").get<std::string>();
    plan.soak = std::chrono::seconds(j.at("soak_s").get<std::int64_t>());
    plan.activate_timeout = std::chrono::seconds(j.at("activate_timeout_s").get<std::int64_t>());
    plan.notes = j.at("notes").get<std::vector<std::string>>();
    plan.violations = j.at("violations").get<std::vector<std::string>>();
    plan.forced = j.at("forced").get<bool>();
    if (j.contains("sites")) plan.sites = j.at("sites").get<std::map<std::string, std::string>>();
    const std::size_t n = plan.hosts.size();
    bool ok = plan.windows.size() == n && plan.before.size() == n;
    for (const auto& w : plan.waves) {
      for (std::size_t h : w) ok = ok && h < n;
    }
    for (const auto& list : plan.before) {
      for (const auto& b : list) ok = ok && b.host < n;
    }
    if (!ok) throw std::runtime_error("a host index out of range");
    return plan;
  } catch (const std::exception& e) {
    if (error) *error = e.what();
    return std::nullopt;
  }
}

}  // namespace fleetcast::sender
