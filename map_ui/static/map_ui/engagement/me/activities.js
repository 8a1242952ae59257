// The "activities" section of /m/me/: render(element, config) fills the section's element.
export async function render(element, config) {}
