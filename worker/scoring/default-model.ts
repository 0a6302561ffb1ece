/**
 * @module The model every new site starts with, on a 0–100 scale: `cold` below 25, `warm` from 25,
 * `hot` from 75, MQL at 100. It follows the practitioners: pricing and references pages far above
 * an ordinary page, content scored by type and velocity, a demo or quote request enough to make a
 * fitting lead hot at once, and persona-fit exclusion of students, competitors and free mailboxes.
 */
import { Model } from './model';

const HIGH_VELOCITY = ['technical_resource', 'white_paper'];
const LOW_VELOCITY = ['ebook', 'case_study', 'market_study', 'blog_article', 'infographic', 'newsletter'];

export const DEFAULT_MODEL: Model = Model.parse({
  dimensions: {
    fit: { max: 60 },
    activity: { max: 100, halfLifeDays: 90 },
    engagement: { max: 40, halfLifeDays: 60 },
  },
  behaviourRules: [
    { id: 'page-view', label: 'Page view', dimension: 'activity', points: 5, when: { type: 'page_view' } },
    {
      id: 'pricing-page',
      label: 'Pricing page viewed',
      dimension: 'activity',
      points: 15,
      maxTimes: 3,
      when: { type: 'page_view', path: ['/pricing*', '/tarifs*', '/prix*'] },
    },
    {
      id: 'references-page',
      label: 'References page viewed',
      dimension: 'activity',
      points: 10,
      maxTimes: 3,
      when: { type: 'page_view', path: ['/references*', '/customers*', '/clients*', '/case-studies*'] },
    },
    { id: 'form-submit', label: 'Form submitted', dimension: 'activity', points: 10, when: { type: 'form_submit' } },
    { id: 'download', label: 'File downloaded', dimension: 'activity', points: 5, when: { type: 'download' } },
    {
      id: 'demo-or-quote-request',
      label: 'Demo or quote requested',
      dimension: 'activity',
      points: 50,
      maxTimes: 1,
      when: { type: 'form_submit', contentType: ['demo_request', 'quote_request'] },
    },
    {
      id: 'high-velocity-content',
      label: 'High-velocity content (technical resource, white paper)',
      dimension: 'activity',
      points: 20,
      maxPoints: 60,
      when: { contentType: HIGH_VELOCITY },
    },
    {
      id: 'low-velocity-content',
      label: 'Low-velocity content (e-book, case study, market study, article, infographic, newsletter)',
      dimension: 'activity',
      points: 5,
      maxPoints: 20,
      when: { contentType: LOW_VELOCITY },
    },
    { id: 'email-open', label: 'E-mail opened', dimension: 'engagement', points: 5, when: { type: 'email_open' } },
    { id: 'email-click', label: 'E-mail link clicked', dimension: 'engagement', points: 5, when: { type: 'email_click' } },
  ],
  profileRules: [
    {
      id: 'job-marketing',
      label: 'Works in marketing',
      points: 25,
      when: { property: 'jobTitle', op: 'contains', value: 'marketing' },
    },
    {
      id: 'job-decision-maker',
      label: 'Decision maker (head, director, VP, C-level)',
      points: 15,
      when: { property: 'jobTitle', op: 'matches', value: '\\b(head|director|directeur|directrice|vp|vice[- ]president|chief|c[emt]o|founder|owner)\\b' },
    },
    {
      id: 'company-size-50',
      label: 'Company of 50 people or more',
      points: 10,
      when: { property: 'companySize', op: 'gte', value: 50 },
    },
    {
      id: 'industry-target',
      label: 'Target industry (software, IT, services)',
      points: 10,
      when: {
        property: 'industry',
        op: 'in',
        value: ['software', 'saas', 'technology', 'it', 'it services', 'consulting', 'professional services', 'telecommunications'],
      },
    },
  ],
  exclusions: [
    {
      id: 'student',
      reason: 'Student',
      when: { property: 'jobTitle', op: 'matches', value: 'student|[ée]tudiant|\\bintern\\b|stagiaire|alternant' },
    },
    {
      id: 'competitor',
      reason: 'Competitor (edit the list of their domains)',
      when: { property: 'emailDomain', op: 'in', value: ['competitor.example'] },
    },
    {
      id: 'free-email',
      reason: 'Free e-mail domain',
      when: { property: 'emailDomain', op: 'in', value: '@freeEmailDomains' },
    },
  ],
  bands: [
    { name: 'cold', min: 0, branch: 'generic-content', description: 'Generic content about the product and the company' },
    { name: 'warm', min: 25, branch: 'technical-content', description: 'Technical content and customer cases' },
    { name: 'hot', min: 75, branch: 'sales-meeting', description: 'Sales nurturing: book a meeting' },
  ],
  stages: {
    lead: { fit: 25, activity: 30, engagement: 10 },
    // Reaching 100 makes a fitting lead an MQL: activity alone, from someone who fits no persona
    // (no role, size or industry the rules know), does not.
    mql: { fit: 25, total: 100 },
  },
});
