/**
 * @module Obvious robots: crawlers, link previewers, monitoring, HTTP libraries and headless browsers
 * that announce themselves. Their events are counted per day, apart, and never scored: a crawler
 * that reads the pricing page ten times is not a hot lead.
 *
 * Only what the user agent says: a robot that lies about it gets through, and is the rate limiter's
 * to deal with. The list errs on the side of letting people in — a browser with an unusual user
 * agent is scored; an empty user agent, which no browser sends, is not. So a name is matched
 * only as robots write it: DuckDuckGo's crawlers say `DuckDuckBot`, its browser `DuckDuckGo/7`, and
 * a CUBOT phone is no bot.
 */

const ROBOT =
  /(?<!cu)bot\b|bot\/|crawl|spider|slurp|scrap|fetch(er)?\b|preview|monitor|uptime|pingdom|lighthouse|pagespeed|gtmetrix|headlesschrome|phantomjs|puppeteer|playwright|selenium|webdriver|python-|\bcurl\/|\bwget\/|go-http-client|okhttp|axios\/|node-fetch|java\/|libwww|httpclient|facebookexternalhit|embedly|whatsapp|skypeuripreview|bingpreview|yandex|baiduspider|applebot|ahrefs|semrush|mj12|petalbot|bytespider|gptbot|claudebot|ccbot/i;

export const isRobot = (userAgent: string | undefined): boolean => !userAgent?.trim() || ROBOT.test(userAgent);
