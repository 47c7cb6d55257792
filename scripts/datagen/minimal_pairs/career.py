"""Work and careers: questions people ask about negotiating salary and pay rises, resigning and notice periods,
CVs and interviews, burnout and workload, references, weighing job offers, conflicts with managers and side jobs.
Each triple pairs a correct answer with a subtly wrong one (the kind of mistake a non-expert could believe, such
as anchoring on current pay, resigning on a phone offer or treating probation as job security) written in the same
sentence frame and tone, so that only the fact in a short span tells them apart. All text was written for this
project.
"""

from __future__ import annotations

PAIRS: tuple[tuple[str, str, str], ...] = (
    (
        "A recruiter asked for my salary expectations on the very first call. What number should I give them?",
        "Give a range built from market data for the role, with the bottom end at a figure you would genuinely accept.",
        "Give a range built from your current salary plus ten percent, with the bottom end at a figure you would genuinely accept.",
    ),
    (
        "I've had a written job offer but the salary is lower than I hoped. When should I try to negotiate it?",
        "Make a polite counter-offer with a specific figure before you accept, since your leverage is at its highest at that point.",
        "Make a polite counter-offer with a specific figure after your first few months, since your leverage is at its highest at that point.",
    ),
    (
        "I have two job offers with almost the same base salary. How should I compare them?",
        "Compare the full package, counting pension, bonus and leave, since two similar salaries can differ by thousands once those are added.",
        "Compare the base salaries alone, ignoring pension, bonus and leave, since two similar salaries rarely differ much once those are added.",
    ),
    (
        "I want to ask my manager for a pay rise. When is the best time to bring it up?",
        "Raise it a month or two before budgets and pay reviews are set, with evidence of your results and current market rates.",
        "Raise it right after budgets and pay reviews have been finalised, with evidence of your results and current market rates.",
    ),
    (
        "My rent has gone up a lot this year. Should I use that as the main reason when I ask for a raise?",
        "Base the request on your results and market pay for the role, since those are what pay decisions mostly rest on.",
        "Base the request on your rising rent and living costs, since those are what pay decisions mostly rest on.",
    ),
    (
        "A job advert I like only says the salary is competitive. Is it rude to ask about the pay range before the interview?",
        "No, asking for the range before interviewing is widely accepted and saves both sides time if the pay is far off.",
        "Yes, asking for the range before interviewing is widely resented and costs you goodwill even if the pay is far off.",
    ),
    (
        "I've decided to resign from my job. How much notice do I need to give?",
        "Give the notice period stated in your contract, in writing, and keep a copy; leaving earlier needs your employer's agreement.",
        "Give two weeks' notice in writing, whatever your contract says, and keep a copy; leaving earlier needs your employer's agreement.",
    ),
    (
        "I'm going to tell my manager I'm resigning in a one-to-one tomorrow. Do I need to put anything in writing as well?",
        "Tell your manager in person and confirm it in a dated email, since that gives a clear record of when your notice began.",
        "Tell your manager in person and skip any follow-up email, since that conversation gives a clear record of when your notice began.",
    ),
    (
        "I'm about to resign and I'm close to my teammates. Who should I tell first?",
        "Tell your manager first, in a private conversation, and agree together how and when the news will be shared with the team.",
        "Tell your closest teammates first, in a private conversation, and agree together how and when the news will be shared with the team.",
    ),
    (
        "After I resigned, my employer offered me a higher salary to stay. Should I take it?",
        "Think about why you wanted to leave; if it was not about pay, a higher salary alone rarely fixes it, so weigh the offer on that basis.",
        "Think about why you wanted to leave; if it was not about pay, a higher salary alone tends to fix it, so weigh the offer on that basis.",
    ),
    (
        "I'm leaving my job in the UK with eight days of holiday I haven't taken. What happens to them?",
        "In the UK and much of the EU, holiday you have accrued but not taken must be paid out with your final salary when you leave.",
        "In the UK and much of the EU, holiday you have accrued but not taken is forfeited without any payment when you leave.",
    ),
    (
        "I have an exit interview with HR next week. Should I be completely honest about my manager?",
        "Be honest but measured and specific, since exit interview notes are often kept on file and shared with managers.",
        "Be honest and hold nothing back, since exit interview notes are kept confidential and not shared with managers.",
    ),
    (
        "I have about eight years of experience. How long should my CV be?",
        "Two pages is the usual length; lead with recent achievements backed by numbers and trim older roles to a line each.",
        "Five pages is the usual length; lead with recent achievements backed by numbers and trim older roles to a line each.",
    ),
    (
        "I'm applying for jobs in the UK. Should I put my date of birth and a photo on my CV?",
        "For UK applications, leave out your date of birth and photo, because recruiters do not expect to see them there.",
        "For UK applications, add your date of birth and photo, because recruiters expect to see them there.",
    ),
    (
        "My CV has a one-year gap from when I was caring for my dad. How should I show it?",
        "Cover the gap by listing it as full-time caring, with dates, so employers see a clear and unbroken timeline.",
        "Cover the gap by extending your previous job's dates, so employers see a clear and unbroken timeline.",
    ),
    (
        "Should I send exactly the same CV to every job I apply for?",
        "Keep one master CV but tailor it for each advert, since recruiters and screening software look for the advert's key terms.",
        "Keep one master CV and send it unchanged to each advert, since recruiters and screening software ignore the advert's key terms.",
    ),
    (
        "How should I answer when an interviewer asks me about my greatest weakness?",
        "Name a real but manageable weakness, then describe the specific steps you have taken to improve on it and what changed.",
        "Name a strength dressed up as a weakness, then describe the specific steps you have taken to improve on it and what changed.",
    ),
    (
        "I have a competency-based interview next week. How should I prepare my examples?",
        "Prepare several examples using the STAR format, describing clearly what you personally did and the measurable result.",
        "Prepare several examples using the STAR format, describing mainly what the team did together and the measurable result.",
    ),
    (
        "At the end of every interview I get asked if I have any questions. What should I do?",
        "Having a couple of prepared questions is wise, since ending the interview without any often signals low interest to the panel.",
        "Having no questions ready is wise, since ending the interview with several often signals low confidence to the panel.",
    ),
    (
        "Interviewers keep asking why I'm leaving, and honestly my manager is awful. What should I say?",
        "Focus on what draws you to the new role, and keep anything you say about your current manager short and neutral.",
        "Focus on what draws you to the new role, and describe your current manager's failings frankly and in detail.",
    ),
    (
        "It's been a week since my final interview and I've heard nothing. Should I follow up?",
        "Yes, send one short, polite email to the recruiter asking about the timeline, and keep applying elsewhere in the meantime.",
        "Yes, send one short, polite email to the recruiter asking about the timeline, and pause your other applications in the meantime.",
    ),
    (
        "I've worked sixty-hour weeks for months and I feel exhausted all the time. What should I do first?",
        "Raise the workload with your manager, giving examples, and see your doctor, since months of exhaustion like this often need treating.",
        "Raise the workload with your manager, giving examples, and take a long weekend, since months of exhaustion like this often clear quickly.",
    ),
    (
        "My manager keeps adding new projects and I can't do them all. How do I push back?",
        "Show your manager your current tasks with time estimates, and ask which one should be dropped or delayed to fit the new project in.",
        "Show your manager your current tasks with time estimates, and offer to work evenings and weekends to fit the new project in.",
    ),
    (
        "I've been signed off sick with stress for two weeks. Should I keep checking work email so I don't fall behind?",
        "No; while you are signed off, step away from work email completely, and ask your manager who will cover urgent matters.",
        "Yes; while you are signed off, check work email once or twice a day, and ask your manager who will cover urgent matters.",
    ),
    (
        "My manager messages me late at night and seems to expect quick replies. How should I handle it?",
        "Agree clear contact hours with your manager in a calm conversation, and answer non-urgent late messages the next working morning.",
        "Agree clear contact hours with your manager in a calm conversation, but keep answering late messages within minutes to show commitment.",
    ),
    (
        "I haven't taken any annual leave this year because we're so busy. Is that a problem?",
        "Yes, because regular breaks help prevent burnout, and unused holiday may be lost when the leave year ends, so book some soon.",
        "No, because regular breaks make little difference to burnout, and unused holiday rolls over when the leave year ends, so book some later.",
    ),
    (
        "I feel guilty logging off at five when my colleagues stay late. Should I stay later too?",
        "Keep to your agreed hours, since most good managers judge you on the quality of your results.",
        "Stay as late as your colleagues, since most good managers judge you on the length of your hours.",
    ),
    (
        "My old manager and I fell out badly. Do I have to give them as a reference?",
        "Usually not, because referees can be another senior colleague from that job, and HR can confirm your dates.",
        "Usually yes, because referees have to be your direct line manager from that job, and HR can confirm your dates.",
    ),
    (
        "Can my former employer in the UK legally give me a bad reference?",
        "Yes, a UK employer may include negative points in a reference as long as they are true, accurate and fair.",
        "No, a UK employer may not include negative points in a reference even if they are true, accurate and fair.",
    ),
    (
        "Should I tell my referees before I pass their contact details to a new employer?",
        "Warn your referees in advance, so that the call is expected and their examples of your work are specific.",
        "Keep your referees uninformed in advance, so that the call is unexpected and their examples of your work are spontaneous.",
    ),
    (
        "A company rang me today to say I've got the job. When should I hand in my notice at my current job?",
        "Hand it in after the offer is confirmed in writing and its conditions, such as references and checks, are cleared.",
        "Hand it in now, since a phone offer means its conditions, such as references and checks, are cleared.",
    ),
    (
        "My new contract includes a twelve-month non-compete clause. Should I sign it as it stands?",
        "Negotiate it before signing, because courts can enforce such clauses where they are reasonable in scope.",
        "Sign it as it stands, because courts do not enforce such clauses, even where they are reasonable in scope.",
    ),
    (
        "My offer letter mentions a six-month probation period. What does that mean for me?",
        "It usually means either side can end the job with shorter notice during that time, so ask for clear goals and regular feedback.",
        "It usually means neither side can end the job during that time, so ask for clear goals and regular feedback.",
    ),
    (
        "My manager criticised my work harshly in front of the whole team. How should I respond?",
        "Stay calm in the meeting, then raise it with them privately afterwards, explaining how you would like feedback given in future.",
        "Push back firmly in the meeting, then raise it with them privately afterwards, explaining how you would like feedback given in future.",
    ),
    (
        "I think my manager is treating me unfairly compared with my colleagues. Should I keep a record?",
        "Yes; write dated notes of each incident on the day it happens, including what was said and who was present.",
        "Yes; write notes of the incidents from memory once you decide to complain, including what was said and who was present.",
    ),
    (
        "I'm in the UK and raised a problem informally with my manager, but nothing changed. What's my next step?",
        "Submit a written grievance under your employer's procedure next, because tribunals expect internal routes to be tried first.",
        "Submit a tribunal claim directly next, because tribunals do not expect internal routes to be tried first.",
    ),
    (
        "I've been invited to a disciplinary meeting at work in the UK. Can I bring someone with me?",
        "In the UK you have a legal right to bring a work colleague or a trade union representative to a disciplinary hearing.",
        "In the UK you have a legal right to bring a family member or a lawyer of your choice to a disciplinary hearing.",
    ),
    (
        "Can I take on a weekend side job while I'm working full-time?",
        "Usually yes, though contract clauses on outside work apply to your weekends too, so read yours before you start.",
        "Usually yes, since contract clauses on outside work cover your working hours but not weekends, so read yours before you start.",
    ),
    (
        "I earn about 3,000 pounds a year from freelance design alongside my UK job. Can I keep it off my tax records?",
        "No; side income above the 1,000-pound trading allowance must be declared through Self Assessment, even alongside a PAYE job.",
        "Yes; side income below the 12,570-pound personal allowance need not be declared through Self Assessment, even alongside a PAYE job.",
    ),
    (
        "Can I use my work laptop for my evening freelance projects?",
        "Use a personal device, since doing outside client work on company equipment in the evening can breach your contract.",
        "Use the work laptop, since doing outside client work on company equipment in the evening cannot breach your contract.",
    ),
)
